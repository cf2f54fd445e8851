"""Re-score a checkpoint on a fold: `python -m fpam_lightning.evaluate ckpt_path=CKPT [data=...]`.

Writes to the run folder: results.json, predictions.csv (one row per clip: file, fold, true and
predicted class, per-class probabilities), classification_report.{json,txt} (per-class precision,
recall, F1, support), confusion_matrix.{png,csv} and embeddings.npz (pooled features for t-SNE),
and logs them to W&B when `logger.wandb` is on. `pooled_report(job_dirs, out_dir)` merges the
predictions of several folds into one report, for `summarize`.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from .training.checkpoint import CheckpointError, LoadedCheckpoint, load_checkpoint
from .utils.errors import FpamError, exit_on_user_error
from .utils.io import atomic_path, write_json_atomic, write_text_atomic
from .utils.results import write_results

log = logging.getLogger("fpam_lightning")

PREDICTIONS_FILE = "predictions.csv"


@dataclass
class Scores:
    """Per-clip outputs of one pass over a loader, in loader order."""

    probs: np.ndarray  # (N, K)
    targets: np.ndarray  # (N,)
    indices: np.ndarray  # (N,) rows of the data set's clip table
    embeddings: np.ndarray  # (N, D) pooled features before the classifier
    loss: float

    @property
    def predicted(self) -> np.ndarray:
        return self.probs.argmax(1)

    @property
    def accuracy(self) -> float:
        return float((self.predicted == self.targets).mean()) if len(self.targets) else 0.0


@torch.no_grad()
def score(module, loader: Sequence) -> Scores:
    """Centre-cropped clips through the front end and network, as the module's test step does."""
    was_training = module.training
    module.eval()
    device = module.device
    probs, targets, indices, embs, losses = [], [], [], [], []
    try:
        for batch in loader:
            wave, y = batch[0].to(device), batch[1].to(device)
            out = module.net.classify(module._spec(module.crop(wave, train=False)))
            losses.append(F.cross_entropy(out.logits, y, reduction="sum").item())
            probs.append(out.logits.float().softmax(-1).cpu())
            targets.append(y.cpu())
            embs.append(out.embedding.float().cpu())
            idx = batch[2] if len(batch) > 2 else torch.arange(len(y))
            indices.append(torch.as_tensor(idx).cpu())
    finally:
        module.train(was_training)
    if not probs:
        raise FpamError("the evaluation fold holds no clips")
    t = torch.cat(targets).numpy()
    return Scores(
        torch.cat(probs).numpy(),
        t,
        torch.cat(indices).numpy(),
        torch.cat(embs).numpy(),
        sum(losses) / len(t),
    )


# --- reports ------------------------------------------------------------------------------------
def prediction_rows(
    dm: Any,
    indices: np.ndarray,
    targets: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
) -> list[dict[str, Any]]:
    """One row per clip, named by its file and fold in the data module's clip table."""
    files = [dm.audio_dir / dm.table.files[i] for i in indices]
    folds = dm.table.folds[indices]
    rows = []
    for f, fold, t, p in zip(files, folds, targets, probs, strict=True):
        pred = int(np.argmax(p))
        row = {
            "file": str(f),
            "fold": int(fold),
            "target": int(t),
            "true_class": class_names[int(t)],
            "predicted": pred,
            "predicted_class": class_names[pred],
            "correct": int(pred == int(t)),
        }
        row.update({f"prob_{n}": f"{float(q):.6f}" for n, q in zip(class_names, p, strict=True)})
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def write_report(
    out_dir: str | Path, rows: list[dict[str, Any]], class_names: Sequence[str], title: str = ""
) -> dict[str, Any]:
    """predictions.csv, the per-class report (json + txt) and the confusion matrix (png + csv)."""
    from sklearn.metrics import classification_report, confusion_matrix

    from .figures import confusion_figure, save

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / PREDICTIONS_FILE, rows)
    y = np.array([int(r["target"]) for r in rows])
    p = np.array([int(r["predicted"]) for r in rows])
    labels = list(range(len(class_names)))
    names = list(class_names)
    report = classification_report(
        y, p, labels=labels, target_names=names, output_dict=True, zero_division=0
    )
    text = classification_report(y, p, labels=labels, target_names=names, digits=4, zero_division=0)
    write_json_atomic(out / "classification_report.json", report)
    write_text_atomic(out / "classification_report.txt", (title + "\n\n" if title else "") + text)
    cm = confusion_matrix(y, p, labels=labels)
    write_csv(
        out / "confusion_matrix.csv",
        [
            {"true_class": n, **{m: int(v) for m, v in zip(names, cm[i], strict=True)}}
            for i, n in enumerate(names)
        ],
    )
    save(confusion_figure(cm, names, title), out / "confusion_matrix.png")
    return {
        "accuracy": float((y == p).mean()),
        "macro_f1": float(report["macro avg"]["f1-score"]),
        "num_clips": int(len(y)),
        "confusion_matrix": cm.tolist(),
    }


def read_prediction_rows(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def pooled_report(
    job_dirs: Sequence[str | Path], out_dir: str | Path, title: str = "pooled over folds"
) -> dict[str, Any]:
    """Merge the predictions.csv of several fold jobs into one report and confusion matrix.

    Each job folder must hold a predictions.csv (from evaluate, or a training run with the
    `OutOfFoldPredictions` callback); folders without one are listed under `missing`.
    """
    rows: list[dict[str, Any]] = []
    names: list[str] | None = None
    used, missing = [], []
    for d in job_dirs:
        path = Path(d) / PREDICTIONS_FILE
        if not path.is_file():
            missing.append(str(d))
            continue
        these = read_prediction_rows(path)
        cols = [c[len("prob_") :] for c in these[0] if c.startswith("prob_")] if these else []
        if names is None:
            names = cols
        elif cols != names:
            raise FpamError(f"{path} has classes {cols}, the other folds {names}")
        rows.extend(these)
        used.append(str(d))
    if not rows or names is None:
        raise FpamError(f"no predictions.csv in any of {len(list(job_dirs))} job folders")
    summary = write_report(out_dir, rows, names, title)
    summary.update(
        {"jobs": used, "missing": missing, "folds": sorted({int(r["fold"]) for r in rows})}
    )
    write_json_atomic(Path(out_dir) / "pooled_results.json", summary)
    return summary


# --- the command --------------------------------------------------------------------------------
def build_datamodule_for(cfg: DictConfig, loaded: LoadedCheckpoint):
    """The configured data set, read at the checkpoint's sample rate and clip length."""
    with open_dict(cfg):
        cfg.data.sample_rate = loaded.sample_rate
        cfg.data.clip_seconds = loaded.clip_seconds
    dm = instantiate(cfg.data, _convert_="all")
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


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def log_to_wandb(cfg: DictConfig, out: Path, results: dict, rows: list[dict]) -> str | None:
    """An offline (by default) W&B run of job type `evaluate` holding the files as media."""
    wcfg = (cfg.get("logger") or {}).get("wandb")
    if not wcfg:
        return None
    import json

    import wandb

    from .training.loggers import wandb_offline

    run = wandb.init(
        project=wcfg.project,
        entity=wcfg.get("entity"),
        group=wcfg.get("group"),
        name=f"evaluate-{results['dataset']}-fold{results['fold']}",
        job_type="evaluate",
        dir=str(out),
        mode="offline" if wandb_offline(wcfg.get("offline", True)) else "online",
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


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Score `cfg.ckpt_path` on `cfg.data`'s held-out fold and write the report files."""
    from .utils.cli import output_dir_of

    start = time.time()
    out = output_dir_of(cfg)
    out.mkdir(parents=True, exist_ok=True)
    loaded = load_checkpoint(cfg.ckpt_path, pick_device(str(cfg.get("device", "auto"))))
    dm = build_datamodule_for(cfg, loaded)
    scores = score(loaded.module, dm.test_dataloader())
    rows = prediction_rows(dm, scores.indices, scores.targets, scores.probs, loaded.class_names)
    title = f"{dm.name} fold {dm.fold}"
    rep = write_report(out, rows, loaded.class_names, title)
    np.savez_compressed(
        out / "embeddings.npz",
        embeddings=scores.embeddings,
        targets=scores.targets,
        predicted=scores.predicted,
        class_names=np.array(loaded.class_names),
        title=np.array(title),
    )
    results = {
        "status": "completed",
        "command": "evaluate",
        "ckpt_path": str(loaded.path),
        "ckpt_epoch": loaded.epoch,
        "dataset": dm.name,
        "fold": dm.fold,
        "test_acc": scores.accuracy,
        "test_loss": scores.loss,
        "macro_f1": rep["macro_f1"],
        "num_test": int(len(scores.targets)),
        "skipped_files": len(dm.skipped),
        "class_names": loaded.class_names,
        "output_dir": str(out),
        "duration_s": round(time.time() - start, 2),
    }
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


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> float:
    with exit_on_user_error():
        if cfg.get("ckpt_path") in (None, "", "null"):
            raise FpamError("give the checkpoint to evaluate: ckpt_path=RUN/checkpoints/last.ckpt")
        OmegaConf.resolve(cfg)
        return evaluate(cfg)["test_acc"]


if __name__ == "__main__":
    main()
