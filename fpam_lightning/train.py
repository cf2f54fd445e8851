"""Train and test one fold: `python -m fpam_lightning.train [GROUP=OPTION ...] [+experiment=NAME]`.

Trains on the training folds, scores the held-out fold with the last epoch's weights and writes
`results.json` to the run's folder (`training.run`). With `-m`, a sweep over folds, seeds or
settings, summarised when it ends (`analysis`).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from .training.run import train
from .utils.cli import PREEMPTED_EXIT_CODE, exit_with, finish_wandb, hydra_command
from .utils.config import validate


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@hydra_command
def main(cfg: DictConfig) -> float | None:
    validate(cfg)  # one readable line for a bad config, before any data or model is built
    results = train(cfg)
    if results["status"] == "preempted":  # the resumed job continues this W&B run
        exit_with(PREEMPTED_EXIT_CODE, f"preempted: {results['message']}")
    finish_wandb(0)
    return results["test_acc"]


if __name__ == "__main__":
    main()
