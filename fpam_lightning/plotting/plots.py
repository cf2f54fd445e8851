"""Matplotlib drawing of the paper's figures, from arrays: no files are read here.

`save` writes a PNG atomically at a fixed size (figsize x DPI) and frees the figure. Everything is
drawn with the Agg backend, so no display is needed.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..utils.errors import FpamError  # noqa: E402
from ..utils.io import atomic_path  # noqa: E402

DPI = 100


def save(fig: Figure, path: str | Path) -> Path:
    """Write the PNG atomically (a killed run leaves no half image) and free the figure."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=DPI)  # no tight bbox: the PNG is figsize x DPI
    finally:
        plt.close(fig)
    return path


def pretty(name: str) -> str:
    return str(name).replace("_", " ")


# --- figure functions ---------------------------------------------------------------------------
def confusion_figure(cm: np.ndarray, class_names: Sequence[str], title: str = "") -> Figure:
    """Counts in each cell, rows = true class; colour = row-normalised recall."""
    cm = np.asarray(cm)
    k = len(class_names)
    side = max(4.0, 0.45 * k + 2.0)
    fig, ax = plt.subplots(figsize=(side + 1.0, side), layout="constrained")
    rows = cm.sum(1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    if k <= 30:
        ax.set_xticks(range(k), [pretty(c) for c in class_names], rotation=45, ha="right")
        ax.set_yticks(range(k), [pretty(c) for c in class_names])
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(
                        j,
                        i,
                        str(int(cm[i, j])),
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if frac[i, j] > 0.5 else "black",
                    )
    else:  # ESC-50: 50 names do not fit as text in every cell
        ax.set_xticks(range(k), [pretty(c) for c in class_names], rotation=90, fontsize=6)
        ax.set_yticks(range(k), [pretty(c) for c in class_names], fontsize=6)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    acc = np.trace(cm) / max(1, cm.sum())
    ax.set_title(f"{title}  (accuracy {acc:.1%}, n={int(cm.sum())})".strip())
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    return fig


def tsne_points(embeddings: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE of the pooled features (sklearn), perplexity capped for small sets."""
    from sklearn.manifold import TSNE

    n = len(embeddings)
    if n < 3:
        raise FpamError(f"t-SNE needs at least 3 clips, got {n}")
    perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
    return TSNE(
        n_components=2, perplexity=perplexity, init="pca", random_state=seed, learning_rate="auto"
    ).fit_transform(np.asarray(embeddings, dtype=np.float64))


def tsne_figure(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray]], class_names: Sequence[str]
) -> Figure:
    """One panel per (title, embeddings, targets); one colour per class, a shared legend."""
    n = len(panels)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols + 1.6, 4.0 * rows), squeeze=False, layout="constrained"
    )
    cmap = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    for ax, (title, emb, targets) in zip(axes.flat, panels, strict=False):
        pts = tsne_points(emb)
        for c, name in enumerate(class_names):
            sel = np.asarray(targets) == c
            if sel.any():
                ax.scatter(
                    pts[sel, 0], pts[sel, 1], s=14, color=cmap(c % cmap.N), label=pretty(name)
                )
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("t-SNE 1")
        ax.set_ylabel("t-SNE 2")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if len(class_names) <= 20:
        fig.legend(handles, labels, loc="outside right center", fontsize=8, frameon=False)
    return fig


def attention_figure(
    items: Sequence[dict], sample_rate: int, hop_length: int, levels: Sequence[int]
) -> Figure:
    """Rows: clips. Columns: the log-mel spectrogram, then each level's spatial attention map.

    Each item holds `spectrogram` and `maps` as (time, mel) arrays and a `title`.
    """
    n_maps = max(len(it["maps"]) for it in items)
    cols = 1 + n_maps
    fig, axes = plt.subplots(
        len(items),
        cols,
        figsize=(3.1 * cols, 2.3 * len(items)),
        squeeze=False,
        layout="constrained",
    )
    for r, it in enumerate(items):
        spec = np.asarray(it["spectrogram"])
        t_end = spec.shape[0] * hop_length / sample_rate
        extent = (0.0, t_end, 0, spec.shape[1])
        ax = axes[r, 0]
        im = ax.imshow(spec.T, origin="lower", aspect="auto", extent=extent, cmap="magma")
        ax.set_title(it["title"], fontsize=9, loc="left")
        ax.set_ylabel("mel bin")
        fig.colorbar(im, ax=ax, pad=0.02).ax.tick_params(labelsize=7)
        for j, m in enumerate(it["maps"]):
            ax = axes[r, 1 + j]
            im = ax.imshow(
                np.asarray(m).T, origin="lower", aspect="auto", extent=extent, cmap="jet"
            )  # own range: maps of an early model sit near 1
            ax.set_title(
                f"spatial attention, Res-{levels[j]}" if j < len(levels) else "", fontsize=9
            )
            fig.colorbar(im, ax=ax, pad=0.02).ax.tick_params(labelsize=7)
        for ax in axes[r]:
            ax.tick_params(labelsize=7)
            if r == len(items) - 1:
                ax.set_xlabel("time (s)")
    return fig


CURVES = (("accuracy", ("train/acc", "val/acc")), ("loss", ("train/loss_epoch", "val/loss")))
LABELS = {
    "train/acc": "train",
    "val/acc": "held-out fold (val)",
    "train/loss_epoch": "train",
    "val/loss": "held-out fold (val)",
}


def curves_figure(metrics: dict[str, dict[int, float]], title: str = "") -> Figure:
    """The paper's Fig. 9: accuracy and loss per epoch, training folds vs the held-out fold."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    found = False
    for ax, (what, keys) in zip(axes, CURVES, strict=True):
        for key in keys:
            series = metrics.get(key)
            if not series:
                continue
            found = True
            ep = sorted(series)
            ax.plot(
                [e + 1 for e in ep], [series[e] for e in ep], marker="o", ms=3, label=LABELS[key]
            )
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "epoch 1.5" ticks
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
        ax.legend()
    if not found:
        plt.close(fig)
        raise FpamError("no train/acc, val/acc, train/loss_epoch or val/loss columns found")
    if title:
        fig.suptitle(title)
    return fig


def box_figure(groups: dict[str, list[float]], title: str = "") -> Figure:
    """Fold accuracies (fractions) per configuration: a box per group, each fold a dot."""
    names = list(groups)
    width = max(4.0, 1.6 * len(names) + 1.5)
    fig, ax = plt.subplots(figsize=(width, 4.0), layout="constrained")
    data = [[100 * v for v in groups[n]] for n in names]
    ax.boxplot(data, widths=0.5, showmeans=True, showfliers=False)  # every fold is a dot
    for i, vals in enumerate(data, start=1):
        ax.scatter(
            np.full(len(vals), i) + np.linspace(-0.08, 0.08, len(vals)),
            vals,
            s=16,
            zorder=3,
            color="tab:red",
        )
    ax.set_xticks(
        range(1, len(names) + 1),
        [f"{n}\n({len(groups[n])} fold{'s' if len(groups[n]) != 1 else ''})" for n in names],
        fontsize=8,
    )
    ax.set_ylabel("held-out fold accuracy (%), last epoch")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(textwrap.fill(title or "fold accuracies", width=int(9 * width)), fontsize=10)
    return fig
