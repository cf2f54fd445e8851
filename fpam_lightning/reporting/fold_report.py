"""The report of held-out predictions: one fold's (evaluate, training), or several folds' pooled.

predictions.csv, classification_report.{json,txt} and confusion_matrix.{csv,png} in one folder
(`write_report`); `pooled_report` merges the predictions.csv of several fold jobs into one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..utils.errors import FpamError
from ..utils.io import write_json_atomic, write_text_atomic
from ..utils.run_files import PREDICTIONS_FILE, confusion_counts, read_prediction_rows, write_csv


def write_report(
    out_dir: str | Path, rows: list[dict[str, Any]], class_names: Sequence[str], title: str = ""
) -> dict[str, Any]:
    """predictions.csv, the per-class report (json + txt) and the confusion matrix (png + csv)."""
    from sklearn.metrics import classification_report

    from ..plotting.plots import confusion_figure, save

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
