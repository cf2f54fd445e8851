"""The per-run files of an analysis, written and read back in one place.

predictions.csv (one row per clip: file, fold, true and predicted class, per-class
probabilities), classification_report.{json,txt}, confusion_matrix.{csv,png}, embeddings `.npz`
(pooled features for t-SNE), `predict`'s per-file and per-window tables, and the pooled
out-of-fold report that merges the predictions.csv of several folds. Every CSV goes through
`write_csv`.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..utils.errors import FpamError
from ..utils.io import atomic_path, write_json_atomic, write_text_atomic

if TYPE_CHECKING:
    from .inference import FilePrediction
    from .scoring import Scores

PREDICTIONS_FILE = "predictions.csv"
EMBEDDINGS_FILE = "embeddings.npz"


def write_csv(
    path: str | Path, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None
) -> Path:
    """Rows as CSV, atomically; `columns` defaults to the first row's keys, a missing cell is ''."""
    path = Path(path)
    fieldnames = list(columns) if columns is not None else list(rows[0])
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fieldnames)
        w.writeheader()
        w.writerows(rows)
    return path


def probability_cells(names: Sequence[str], probs: Sequence[float]) -> dict[str, str]:
    return {f"prob_{n}": f"{float(q):.6f}" for n, q in zip(names, probs, strict=True)}


# --- rows -----------------------------------------------------------------------------------------
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
        row.update(probability_cells(class_names, p))
        rows.append(row)
    return rows


def top_k(probs: np.ndarray, names: Sequence[str], k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probs)[:k]
    return [(names[i], float(probs[i])) for i in order]


def file_table(
    preds: Sequence[FilePrediction], names: Sequence[str], k: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """`predict`'s csv: one row per file, its top-k and every class's probability."""
    cols = ["file", "status", "error", "duration_s", "num_windows"]
    cols += [f"top{i}_{w}" for i in range(1, k + 1) for w in ("class", "prob")]
    cols += [f"prob_{n}" for n in names]
    rows = []
    for p in preds:
        row: dict[str, Any] = {
            "file": p.file,
            "status": "error" if p.error else "ok",
            "error": p.error or "",
            "duration_s": f"{p.duration_s:.3f}",
            "num_windows": len(p.windows),
        }
        if p.probs is not None:
            for i, (c, q) in enumerate(top_k(p.probs, names, k), start=1):
                row[f"top{i}_class"], row[f"top{i}_prob"] = c, f"{q:.6f}"
            row.update(probability_cells(names, p.probs))
        rows.append(row)
    return rows, cols


def window_table(
    preds: Sequence[FilePrediction], names: Sequence[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """`predict`'s windows_csv: one row per window, its start/end (s) and class probabilities."""
    cols = ["file", "window", "start_s", "end_s", "predicted_class"] + [f"prob_{n}" for n in names]
    rows = [
        {
            "file": p.file,
            "window": i,
            "start_s": f"{s:.3f}",
            "end_s": f"{e:.3f}",
            "predicted_class": names[int(np.argmax(probs))],
            **probability_cells(names, probs),
        }
        for p in preds
        for i, (s, e, probs) in enumerate(p.windows)
    ]
    return rows, cols


# --- reports ------------------------------------------------------------------------------------
def confusion_counts(targets: Sequence[int], predicted: Sequence[int], num_classes: int):
    """Counts, rows = true class, columns = predicted class."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(targets, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return cm


def write_report(
    out_dir: str | Path, rows: list[dict[str, Any]], class_names: Sequence[str], title: str = ""
) -> dict[str, Any]:
    """predictions.csv, the per-class report (json + txt) and the confusion matrix (png + csv)."""
    from sklearn.metrics import classification_report

    from .plots import confusion_figure, save

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / PREDICTIONS_FILE, rows)
    y = np.array([int(r["target"]) for r in rows])
    p = np.array([int(r["predicted"]) for r in rows])
    labels, names = list(range(len(class_names))), list(class_names)
    report = classification_report(
        y, p, labels=labels, target_names=names, output_dict=True, zero_division=0
    )
    text = classification_report(y, p, labels=labels, target_names=names, digits=4, zero_division=0)
    write_json_atomic(out / "classification_report.json", report)
    write_text_atomic(out / "classification_report.txt", (title + "\n\n" if title else "") + text)
    cm = confusion_counts(y, p, len(names))
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


def write_embeddings(path: str | Path, scores: Scores, class_names: Sequence[str], title: str):
    """Pooled features, targets and predictions of a pass, for `figures tsne`."""
    np.savez_compressed(
        path,
        embeddings=scores.embeddings,
        targets=scores.targets,
        predicted=scores.predicted,
        class_names=np.array(list(class_names)),
        title=np.array(title),
    )
    return Path(path)


# --- readers ------------------------------------------------------------------------------------
def read_prediction_rows(path: str | Path) -> tuple[list[dict[str, str]], list[str]]:
    """The rows of a predictions.csv and the class names of its prob_* columns."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        names = [c[len("prob_") :] for c in (reader.fieldnames or []) if c.startswith("prob_")]
    return rows, names


def read_predictions(path: str | Path) -> tuple[list[dict], list[str]]:
    """As `read_prediction_rows`, with one-line errors for a missing or empty file."""
    path = Path(path)
    if not path.is_file():
        raise FpamError(f"{path} is not a file: run `python -m fpam_lightning.evaluate` first")
    rows, names = read_prediction_rows(path)
    if not names or not rows:
        raise FpamError(f"{path} has no predictions (no rows or no prob_* columns)")
    return rows, names


def read_metrics_csv(path: str | Path) -> dict[str, dict[int, float]]:
    """Lightning's CSVLogger metrics.csv (or a W&B history export): column -> {epoch: value}."""
    out: dict[str, dict[int, float]] = defaultdict(dict)
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if not row.get("epoch"):
                continue
            epoch = int(float(row["epoch"]))
            for k, v in row.items():
                if k not in ("epoch", "step") and v not in ("", None):
                    out[k][epoch] = float(v)
    return dict(out)


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
        these, cols = read_prediction_rows(path)
        cols = cols if these else []
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
