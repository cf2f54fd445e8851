"""The paper's figures as PNGs, drawn from a run's artefacts: `python -m fpam_lightning.figures`.

Each figure has a plotting function (used by the training callbacks too) and a sub-command:

  attention  CKPT [WAV ...] [--predictions predictions.csv --per-class]   log-mel + FPAM maps
  tsne       embeddings.npz [...]         t-SNE of pooled features, one panel per file (epoch)
  confusion  predictions.csv              confusion matrix with class names
  curves     metrics.csv | RUN_DIR        train / held-out accuracy and loss per epoch
  box        RUN_OR_SWEEP_DIR [...]       fold accuracies (results.json) per configuration

Everything is drawn with Matplotlib's Agg backend, so no display is needed.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import textwrap
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .utils.errors import USER_ERROR_EXIT_CODE, FpamError  # noqa: E402
from .utils.io import atomic_path  # noqa: E402

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


# --- artefact readers ---------------------------------------------------------------------------
def read_predictions(path: str | Path) -> tuple[list[dict], list[str]]:
    """Rows of an evaluate predictions.csv and the class names from its prob_* columns."""
    path = Path(path)
    if not path.is_file():
        raise FpamError(f"{path} is not a file: run `python -m fpam_lightning.evaluate` first")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        names = [c[len("prob_") :] for c in (reader.fieldnames or []) if c.startswith("prob_")]
    if not names or not rows:
        raise FpamError(f"{path} has no predictions (no rows or no prob_* columns)")
    return rows, names


def confusion_from_rows(rows: list[dict], num_classes: int) -> np.ndarray:
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    for r in rows:
        cm[int(r["target"]), int(r["predicted"])] += 1
    return cm


def config_label(res: dict) -> str:
    mix = "+mixup" if res.get("mixup") else ""
    return f"{res.get('backbone', '?')}+{res.get('attention', '?')}{mix}"


def collect_fold_accuracies(paths: Sequence[str | Path]) -> dict[str, list[float]]:
    """results.json under the given run or sweep folders, grouped by configuration."""
    import json

    groups: dict[str, list[float]] = defaultdict(list)
    for p in paths:
        p = Path(p)
        files = [p] if p.is_file() else sorted(p.rglob("results.json"))
        for f in files:
            res = json.loads(f.read_text())
            if (
                res.get("status", "completed") == "completed"
                and "test_acc" in res
                and res.get("fold") is not None
            ):
                groups[config_label(res)].append(float(res["test_acc"]))
    if not groups:
        where = ", ".join(map(str, paths))
        raise FpamError(f"no completed results.json with test_acc under {where}")
    return dict(groups)


def attention_items(loaded, waves: Sequence, titles: Sequence[str]) -> list[dict]:
    """Run `explain()` on each waveform (cropped/padded as in evaluation) and collect its maps."""
    import torch

    module = loaded.module
    items = []
    for wave, title in zip(waves, titles, strict=True):
        w = torch.as_tensor(wave, dtype=torch.float32)[None].to(module.device)
        w = module.crop(w, train=False)
        out = module.net.explain(w)
        if not out["attention_maps"]:
            raise FpamError(
                "this model has no spatial attention maps (attention=none or pca): "
                "attention figures need fpam or psa"
            )
        pred = int(out["logits"].argmax(-1))
        prob = float(out["logits"].softmax(-1)[0, pred])
        items.append(
            {
                "spectrogram": out["spectrogram"][0, 0].cpu().numpy(),
                "maps": [m[0, 0].cpu().numpy() for m in out["attention_maps"]],
                "title": f"{title} -> {pretty(loaded.class_names[pred])} ({prob:.0%})",
            }
        )
    return items


def attention_levels(loaded) -> list[int]:
    att = loaded.hparams["net"].get("attention", {})
    return sorted(int(lv) for lv in att.get("levels", (3, 4, 5)))


def pick_per_class(rows: list[dict], names: list[str]) -> list[dict]:
    """One clip per class: the most confidently correct, else the first of that class."""
    chosen = []
    for c, name in enumerate(names):
        mine = [r for r in rows if int(r["target"]) == c]
        if not mine:
            continue
        right = [r for r in mine if int(r["predicted"]) == c]
        pool = right or mine
        chosen.append(max(pool, key=lambda r: float(r[f"prob_{name}"])))
    return chosen


# --- command line ------------------------------------------------------------------------------
def _attention(args) -> Path:
    from .data.audio import AudioDecodeError, load_audio
    from .training.checkpoint import load_checkpoint

    loaded = load_checkpoint(args.ckpt)
    entries: list[tuple[str, str]] = []  # (path, title)
    if args.predictions:
        rows, names = read_predictions(args.predictions)
        picked = pick_per_class(rows, names) if args.per_class else rows[: args.max_clips]
        entries += [(r["file"], pretty(r["true_class"])) for r in picked]
    entries += [(w, Path(w).stem) for w in args.wavs]
    if not entries:
        raise FpamError("give WAV files and/or --predictions predictions.csv")
    entries = entries[: args.max_clips]
    waves = []
    for path, _ in entries:
        try:
            waves.append(load_audio(path, loaded.sample_rate))
        except AudioDecodeError as e:
            raise FpamError(f"{path}: {e}") from None
    items = attention_items(loaded, waves, [t for _, t in entries])
    hop = int(loaded.hparams["net"]["features"].get("hop_length", 400))
    fig = attention_figure(items, loaded.sample_rate, hop, attention_levels(loaded))
    return save(fig, args.out)


def _tsne(args) -> Path:
    panels, names = [], None
    for p in args.embeddings:
        if not Path(p).is_file():
            raise FpamError(f"{p} is not a file")
        z = np.load(p, allow_pickle=False)
        names = [str(n) for n in z["class_names"]]
        title = str(z["title"]) if "title" in z.files else Path(p).stem
        panels.append((title, z["embeddings"], z["targets"]))
    return save(tsne_figure(panels, names), args.out)


def _confusion(args) -> Path:
    rows, names = read_predictions(args.predictions)
    cm = confusion_from_rows(rows, len(names))
    return save(
        confusion_figure(cm, names, args.title or Path(args.predictions).parent.name), args.out
    )


def _curves(args) -> Path:
    p = Path(args.metrics)
    if p.is_dir():
        found = sorted(p.rglob("metrics.csv"))
        if not found:
            raise FpamError(f"no metrics.csv under {p}: train with logger=csv")
        p = found[0]
    if not p.is_file():
        raise FpamError(f"{p} is not a file")
    return save(curves_figure(read_metrics_csv(p), args.title), args.out)


def _box(args) -> Path:
    return save(box_figure(collect_fold_accuracies(args.runs), args.title), args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fpam_lightning.figures", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="kind", required=True)
    a = sub.add_parser("attention", help="log-mel spectrograms next to FPAM spatial attention")
    a.add_argument("ckpt", help="a checkpoint written by fpam_lightning.train")
    a.add_argument("wavs", nargs="*", help="audio files to draw")
    a.add_argument("--predictions", help="predictions.csv from evaluate: clips to draw")
    a.add_argument(
        "--per-class", action="store_true", help="one clip per class (the paper's Fig. 5)"
    )
    a.add_argument("--max-clips", type=int, default=10)
    a.add_argument("--out", default="attention.png")
    a.set_defaults(run=_attention)
    t = sub.add_parser("tsne", help="t-SNE of pooled features; one panel per embeddings.npz")
    t.add_argument("embeddings", nargs="+")
    t.add_argument("--out", default="tsne.png")
    t.set_defaults(run=_tsne)
    c = sub.add_parser("confusion", help="confusion matrix from predictions.csv")
    c.add_argument("predictions")
    c.add_argument("--title", default="")
    c.add_argument("--out", default="confusion_matrix.png")
    c.set_defaults(run=_confusion)
    u = sub.add_parser("curves", help="accuracy and loss curves from metrics.csv")
    u.add_argument("metrics", help="metrics.csv, or a run folder trained with logger=csv")
    u.add_argument("--title", default="")
    u.add_argument("--out", default="curves.png")
    u.set_defaults(run=_curves)
    b = sub.add_parser("box", help="box plot of fold accuracies from results.json files")
    b.add_argument("runs", nargs="+", help="run or sweep folders (searched for results.json)")
    b.add_argument("--title", default="")
    b.add_argument("--out", default="fold_accuracy_box.png")
    b.set_defaults(run=_box)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        path = args.run(args)
    except FpamError as e:
        print(f"error: {e}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
