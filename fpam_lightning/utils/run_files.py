"""The per-run files that every layer reads or writes, without torch or Matplotlib.

The file names (predictions.csv, embeddings.npz), the rows of predictions.csv (one per clip:
file, fold, true and predicted class, per-class probabilities) and `write_csv`, through which
every CSV goes; the readers of predictions.csv and of Lightning's metrics.csv; confusion counts.
The reports built on them are `reporting.fold_report`'s, the embeddings `inference.scoring`'s
and `predict`'s tables `inference.predictor`'s.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FpamError
from .io import atomic_path

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


# --- counts -------------------------------------------------------------------------------------
def confusion_counts(targets: Sequence[int], predicted: Sequence[int], num_classes: int):
    """Counts, rows = true class, columns = predicted class."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(targets, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return cm


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
