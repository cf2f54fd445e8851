"""Re-score a checkpoint on a fold: `python -m fpam_lightning.evaluate ckpt_path=CKPT [data=...]`.

Writes to the run folder: results.json, predictions.csv (one row per clip: file, fold, true and
predicted class, per-class probabilities), classification_report.{json,txt} (per-class precision,
recall, F1, support), confusion_matrix.{png,csv} and embeddings.npz (pooled features for t-SNE),
and logs them to W&B when `logger.wandb` is on (`reporting.evaluation`). Several folds' reports
merge into one with `reporting.fold_report.pooled_report` (as `summarize` does).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

from .utils.cli import hydra_command, one_line_config_errors
from .utils.errors import FpamError
from .utils.schema import register_schemas

register_schemas()  # the configs' defaults lists name these schemas (Hydra composes after)


@one_line_config_errors
@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
@hydra_command
def main(cfg: DictConfig) -> float:
    if cfg.get("ckpt_path") in (None, "", "null"):
        raise FpamError("give the checkpoint to evaluate: ckpt_path=RUN/checkpoints/last.ckpt")
    OmegaConf.resolve(cfg)
    from .reporting.evaluation import evaluate  # here: `--help` needs no torch

    return evaluate(cfg)["test_acc"]


if __name__ == "__main__":
    main()
