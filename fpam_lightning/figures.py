"""The paper's figures as PNGs, drawn from a run's artefacts: `python -m fpam_lightning.figures`.

Each figure has a plotting function (`plotting.plots`, used by the training callbacks too) and
a sub-command (`plotting.run_figures`):

  attention  CKPT [WAV ...] [--predictions predictions.csv --per-class]   log-mel + FPAM maps
  tsne       embeddings.npz [...]         t-SNE of pooled features, one panel per file (epoch)
  confusion  predictions.csv              confusion matrix with class names
  curves     metrics.csv | RUN_DIR        train / held-out accuracy and loss per epoch
  box        RUN_OR_SWEEP_DIR [...]       fold accuracies (results.json) per configuration

Everything is drawn with Matplotlib's Agg backend, so no display is needed. Prints the PNG's path.
"""

from __future__ import annotations

import argparse
import sys

from .plotting import run_figures
from .utils.cli import argv_command

COMMANDS = {
    "attention": lambda a: run_figures.attention_png(
        a.ckpt, a.wavs, a.out, a.predictions, a.per_class, a.max_clips
    ),
    "tsne": lambda a: run_figures.tsne_png(a.embeddings, a.out),
    "confusion": lambda a: run_figures.confusion_png(a.predictions, a.out, a.title),
    "curves": lambda a: run_figures.curves_png(a.metrics, a.out, a.title),
    "box": lambda a: run_figures.box_png(a.runs, a.out, a.title),
}


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
    t = sub.add_parser("tsne", help="t-SNE of pooled features; one panel per embeddings.npz")
    t.add_argument("embeddings", nargs="+")
    t.add_argument("--out", default="tsne.png")
    c = sub.add_parser("confusion", help="confusion matrix from predictions.csv")
    c.add_argument("predictions")
    c.add_argument("--title", default="")
    c.add_argument("--out", default="confusion_matrix.png")
    u = sub.add_parser("curves", help="accuracy and loss curves from metrics.csv")
    u.add_argument("metrics", help="metrics.csv, or a run folder trained with logger=csv")
    u.add_argument("--title", default="")
    u.add_argument("--out", default="curves.png")
    b = sub.add_parser("box", help="box plot of fold accuracies from results.json files")
    b.add_argument("runs", nargs="+", help="run or sweep folders (searched for results.json)")
    b.add_argument("--title", default="")
    b.add_argument("--out", default="fold_accuracy_box.png")
    return parser


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    print(COMMANDS[args.kind](args))
    return 0


main = argv_command(run)

if __name__ == "__main__":
    sys.exit(main())
