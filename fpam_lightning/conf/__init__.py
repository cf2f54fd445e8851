"""Hydra configs, a package so that the console scripts (fpam-train, ...) find them too."""
