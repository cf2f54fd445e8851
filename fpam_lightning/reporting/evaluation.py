"""Re-score a checkpoint on a fold and write its report (the `evaluate` command's work).

Writes to the run folder: results.json, predictions.csv, classification_report.{json,txt},
confusion_matrix.{png,csv} and embeddings.npz (`reports`), and logs them to a W&B run of job
type `evaluate` when `logger.wandb` is on: in the training run's group, tagged with its
experiment, so the evaluation sits beside the run it scores.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from ..inference.scoring import Scores, pick_device, score, write_embeddings
from ..training.augment import view_kind
from ..training.build import build_datamodule
from ..training.checkpoint import CheckpointError, LoadedCheckpoint, load_checkpoint
from ..utils.cli import output_dir_of
from ..utils.errors import FpamError
from ..utils.provenance import provenance
from ..utils.results import write_results
from ..utils.run_files import EMBEDDINGS_FILE, prediction_rows
from ..utils.schema import positive_int
from .fold_report import write_report

log = logging.getLogger("fpam_lightning")


def build_datamodule_for(cfg: DictConfig, loaded: LoadedCheckpoint):
    """The configured data set, read at the checkpoint's sample rate and clip length."""
    with open_dict(cfg):
        cfg.data.sample_rate = loaded.sample_rate
        cfg.data.clip_seconds = loaded.clip_seconds
    dm = build_datamodule(cfg.data)
    dm.prepare_data()
    dm.setup("test")
    if dm.num_classes != len(loaded.class_names):
        raise CheckpointError(
            f"{loaded.path} classifies {len(loaded.class_names)} classes but {dm.name} has "
            f"{dm.num_classes}: evaluate it on the data set it was trained on"
        )
    if list(dm.class_names) != list(loaded.class_names):
        log.warning(
            "class names differ between the checkpoint %s and the data %s",
            loaded.class_names,
            dm.class_names,
        )
    return dm


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Score `cfg.ckpt_path` on `cfg.data`'s held-out fold and write the report files."""
    start = time.time()
    out = output_dir_of(cfg)
    out.mkdir(parents=True, exist_ok=True)
    loaded = load_checkpoint(cfg.ckpt_path, pick_device(str(cfg.get("device", "auto"))))
    dm = build_datamodule_for(cfg, loaded)
    use_tta_crops(loaded, (cfg.get("eval") or {}).get("tta_crops"))
    scores = score(loaded.module, dm.test_dataloader())
    rows = prediction_rows(dm, scores.indices, scores.targets, scores.probs, loaded.class_names)
    title = f"{dm.name} fold {dm.fold}"
    rep = write_report(out, rows, loaded.class_names, title)
    write_embeddings(out / EMBEDDINGS_FILE, scores, loaded.class_names, title)
    results = evaluation_results(loaded, dm, scores, rep["macro_f1"], out)
    results["duration_s"] = round(time.time() - start, 2)
    results["wandb_run_id"] = log_to_wandb(cfg, out, results, rows)
    write_results(out, results)
    log.info(
        "%s fold %d: accuracy %.4f, macro F1 %.4f (%d clips) -> %s",
        dm.name,
        dm.fold,
        results["test_acc"],
        results["macro_f1"],
        results["num_test"],
        out,
    )
    return results


def use_tta_crops(loaded: LoadedCheckpoint, crops: Any) -> None:
    """Score with `crops` views per clip; None keeps the training run's `eval.tta_crops`."""
    if crops is None:
        return
    for problem in positive_int("eval.tta_crops", crops):  # the schema's rule, null allowed here
        raise FpamError(f"{problem} (or null)")
    loaded.module.tta_crops = crops


def evaluation_results(
    loaded: LoadedCheckpoint, dm: Any, scores: Scores, macro_f1: float, out: Path
) -> dict[str, Any]:
    """results.json of an evaluation (less its duration and W&B run id)."""
    return {
        "status": "completed",
        "command": "evaluate",
        "ckpt_path": str(loaded.path),
        "ckpt_epoch": loaded.epoch,
        "dataset": dm.name,
        "fold": dm.fold,
        "test_acc": scores.accuracy,
        "test_loss": scores.loss,
        "scoring": view_kind(loaded.module.tta_crops, dm.cache_samples, dm.clip_samples),
        "macro_f1": macro_f1,
        "num_test": int(len(scores.targets)),
        "skipped_files": len(dm.skipped),
        "skipped": list(dm.skipped),
        "class_names": loaded.class_names,
        "output_dir": str(out),
        "provenance": provenance(loaded.module.device, dm.fingerprint()),
    }


# --- W&B ----------------------------------------------------------------------------------------
def training_run_wandb(ckpt_path: str | Path) -> tuple[str | None, str | None]:
    """(group, experiment) of the training run that wrote the checkpoint, from its `.hydra/`.

    The group is the one `training.loggers` gave that run: its `logger.wandb.group`, else
    `<experiment>/<sweep folder>` for a multirun job (the nearest folder above with a
    multirun.yaml), else `<experiment>/<run folder>`. (None, None) when the folder says nothing.
    """
    from ..training.loggers import group_name

    ckpt = Path(str(ckpt_path))
    run = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
    config = run / ".hydra" / "config.yaml"
    try:
        cfg = OmegaConf.load(config) if config.is_file() else None
        experiment = None if cfg is None else cfg.get("experiment")
        group = ((cfg.get("logger") or {}).get("wandb") or {}).get("group") if cfg else None
    except Exception:  # an unreadable or unresolvable config: the caller falls back
        return None, None
    if experiment is None:
        return None, None
    if not group:
        sweep = next((d for d in run.parents[:3] if (d / "multirun.yaml").is_file()), None)
        group = group_name(str(experiment), sweep or run)
    return str(group), str(experiment)


def log_to_wandb(cfg: DictConfig, out: Path, results: dict, rows: list[dict]) -> str | None:
    """An offline (by default) W&B run of job type `evaluate` holding the files as media."""
    wcfg = (cfg.get("logger") or {}).get("wandb")
    if not wcfg:
        return None
    import json

    import wandb

    from ..training.loggers import open_wandb_run, sweep_group

    group, experiment = training_run_wandb(results["ckpt_path"])
    run = open_wandb_run(
        wcfg,
        job_type="evaluate",
        name=f"evaluate-{results['dataset']}-fold{results['fold']}",
        group=group or sweep_group(str(cfg.experiment), out),
        tags=[t for t in (experiment, str(cfg.experiment)) if t],
        dir=out,
        config={"ckpt_path": results["ckpt_path"], "fold": results["fold"]},
    )
    report = json.loads((out / "classification_report.json").read_text())
    per_class = [
        [k, v["precision"], v["recall"], v["f1-score"], v["support"]]
        for k, v in report.items()
        if isinstance(v, dict)
    ]
    run.log(
        {
            "test/acc": results["test_acc"],
            "test/loss": results["test_loss"],
            "test/macro_f1": results["macro_f1"],
            "confusion_matrix": wandb.Image(str(out / "confusion_matrix.png")),
            "classification_report": wandb.Table(
                columns=["class", "precision", "recall", "f1", "support"], data=per_class
            ),
            "predictions": wandb.Table(
                columns=list(rows[0]), data=[list(r.values()) for r in rows]
            ),
        }
    )
    run.summary.update({"test/acc": results["test_acc"], "test/macro_f1": results["macro_f1"]})
    run_id = run.id
    run.finish()
    return run_id
