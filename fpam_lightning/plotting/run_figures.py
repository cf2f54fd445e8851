"""Each of the paper's figures drawn from a run's files, written as a PNG (`figures` sub-commands).

attention_png  a checkpoint and audio files or predictions.csv -> log-mel + attention maps
tsne_png       embeddings.npz files (epochs) -> one t-SNE panel each
confusion_png  predictions.csv -> confusion matrix
curves_png     metrics.csv, or a run folder holding one -> accuracy and loss per epoch
box_png        run or sweep folders -> fold accuracies (results.json) per configuration
cv_box_plot    a cross-validation summary -> its cv_summary.png
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..stats.runs import collect_fold_accuracies
from ..utils.errors import FpamError
from ..utils.run_files import confusion_counts, read_metrics_csv, read_predictions
from .plots import box_figure, confusion_figure, curves_figure, pretty, save, tsne_figure


def attention_clips(
    wavs: Sequence[str], predictions: str | None, per_class: bool, max_clips: int
) -> list[tuple[str, str]]:
    """(path, title) of the clips to draw: picked from predictions.csv, then the given files."""
    from .attention import pick_per_class

    entries: list[tuple[str, str]] = []
    if predictions:
        rows, names = read_predictions(predictions)
        picked = pick_per_class(rows, names) if per_class else rows[:max_clips]
        entries += [(r["file"], pretty(r["true_class"])) for r in picked]
    entries += [(w, Path(w).stem) for w in wavs]
    if not entries:
        raise FpamError("give WAV files and/or --predictions predictions.csv")
    return entries[:max_clips]


def attention_png(
    ckpt: str,
    wavs: Sequence[str],
    out: str | Path,
    predictions: str | None = None,
    per_class: bool = False,
    max_clips: int = 10,
) -> Path:
    """Rows of clips: the log-mel spectrogram, then each level's spatial attention map."""
    from ..data.audio import AudioDecodeError, load_audio
    from ..training.checkpoint import load_checkpoint
    from .attention import attention_plot, explain_clips

    loaded = load_checkpoint(ckpt)
    entries = attention_clips(wavs, predictions, per_class, max_clips)
    waves = []
    for path, _ in entries:
        try:
            waves.append(load_audio(path, loaded.sample_rate))
        except AudioDecodeError as e:
            raise FpamError(f"{path}: {e}") from None
    items = explain_clips(loaded.module, waves)
    for it, (_, title) in zip(items, entries, strict=True):
        it["title"] = f"{title} -> {pretty(loaded.class_names[it['predicted']])} ({it['prob']:.0%})"
    return save(attention_plot(loaded.module, items), out)


def tsne_png(embeddings: Sequence[str], out: str | Path) -> Path:
    """One panel per embeddings.npz (from evaluate or the FigureLogger's epochs)."""
    panels, names = [], None
    for p in embeddings:
        if not Path(p).is_file():
            raise FpamError(f"{p} is not a file")
        z = np.load(p, allow_pickle=False)
        names = [str(n) for n in z["class_names"]]
        title = str(z["title"]) if "title" in z.files else Path(p).stem
        panels.append((title, z["embeddings"], z["targets"]))
    return save(tsne_figure(panels, names), out)


def confusion_png(predictions: str, out: str | Path, title: str = "") -> Path:
    """Titled by the predictions' folder unless `title` is given."""
    rows, names = read_predictions(predictions)
    cm = confusion_counts(
        [int(r["target"]) for r in rows], [int(r["predicted"]) for r in rows], len(names)
    )
    return save(confusion_figure(cm, names, title or Path(predictions).parent.name), out)


def find_metrics_csv(metrics: str | Path) -> Path:
    """metrics.csv itself, or the first one under a run folder (trained with logger=csv)."""
    p = Path(metrics)
    if p.is_dir():
        found = sorted(p.rglob("metrics.csv"))
        if not found:
            raise FpamError(f"no metrics.csv under {p}: train with logger=csv")
        p = found[0]
    if not p.is_file():
        raise FpamError(f"{p} is not a file")
    return p


def curves_png(metrics: str | Path, out: str | Path, title: str = "") -> Path:
    return save(curves_figure(read_metrics_csv(find_metrics_csv(metrics)), title), out)


def box_png(runs: Sequence[str | Path], out: str | Path, title: str = "") -> Path:
    return save(box_figure(collect_fold_accuracies(runs), title), out)


def cv_box_plot(summary: dict[str, Any], path: Path) -> None:
    """The tutorial's figure: fold accuracies per configuration, one box each (cv_summary.png)."""
    rows = [r for r in summary["rows"] if r["n_completed"]]
    groups = {r["configuration"]: [v for v in r["folds"].values() if v is not None] for r in rows}
    datasets = ", ".join(sorted({str(r["dataset"]) for r in rows if r.get("dataset")}))
    save(box_figure(groups, f"fold accuracies, {datasets}" if datasets else ""), path)
