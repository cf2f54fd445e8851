"""Training machinery: the LightningModule, its builders, callbacks, checkpoints and loggers."""
