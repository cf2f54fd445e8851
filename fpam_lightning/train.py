"""Train and test one fold: `python -m fpam_lightning.train [GROUP=OPTION ...] [+experiment=NAME]`.

Trains on the training folds, scores the held-out fold with the last epoch's weights and writes
`results.json` to the run's folder (`training.run`). With `-m`, a sweep over folds, seeds or
settings, summarised when it ends (`reporting`). Under the Optuna sweeper (a hyperparameter
search, `training.search`) each job returns its inner-split accuracy, never the test fold's.
"""

from __future__ import annotations

from typing import Any

import hydra
from omegaconf import DictConfig

from .utils.cli import (
    PREEMPTED_EXIT_CODE,
    exit_with,
    finish_wandb,
    hydra_command,
    one_line_config_errors,
)
from .utils.schema import register_schemas

register_schemas()  # the configs' defaults lists name these schemas (Hydra composes after)

# torch, Lightning and the project's machinery are imported inside the functions, so that
# `--help` (answered by Hydra before any of them runs) starts in a fraction of a second.


@hydra_command
def run(cfg: DictConfig) -> dict[str, Any]:
    from .training.config_checks import validate
    from .training.run import train

    validate(cfg)  # one readable line for a bad config, before any data or model is built
    results = train(cfg)
    if results["status"] == "preempted":  # the resumed job continues this W&B run
        exit_with(PREEMPTED_EXIT_CODE, f"preempted: {results['message']}")
    finish_wandb(0)
    return results


@one_line_config_errors
@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """The sweeper's value of this job: the test accuracy, or in a search the inner split's."""
    from .training.search import is_search, objective, refuse_test_fold_search

    refuse_test_fold_search(cfg)  # before any work: exit 2 with one line
    results = run(cfg)
    if is_search():
        return objective(results)
    return None if results is None else results["test_acc"]


if __name__ == "__main__":
    main()
