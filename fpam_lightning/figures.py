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

from .utils.cli import HelpFormatter, argv_command, command_parser

PROG = "python -m fpam_lightning.figures"


def draw(a: argparse.Namespace) -> str:
    """The sub-command's figure; its path. Imported here, so that `--help` needs no torch."""
    from .plotting import run_figures

    if a.kind == "attention":
        return run_figures.attention_png(
            a.ckpt, a.wavs, a.out, a.predictions, a.per_class, a.max_clips
        )
    if a.kind == "tsne":
        return run_figures.tsne_png(a.embeddings, a.out)
    if a.kind == "confusion":
        return run_figures.confusion_png(a.predictions, a.out, a.title)
    if a.kind == "curves":
        return run_figures.curves_png(a.metrics, a.out, a.title)
    return run_figures.box_png(a.runs, a.out, a.title)


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser(PROG, __doc__, f"{PROG} curves RUN_DIR --out curves.png")
    sub = parser.add_subparsers(dest="kind", required=True, metavar="KIND")

    def kind(name: str, help: str, example: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=f"example:\n  {PROG} {name} {example}",
            formatter_class=HelpFormatter,
        )

    a = kind(
        "attention",
        "log-mel spectrograms next to FPAM spatial attention",
        "RUN/checkpoints/last.ckpt --predictions RUN/predictions.csv --per-class",
    )
    a.add_argument("ckpt", help="a checkpoint written by fpam_lightning.train")
    a.add_argument("wavs", nargs="*", help="audio files to draw")
    a.add_argument("--predictions", help="predictions.csv from evaluate: clips to draw")
    a.add_argument(
        "--per-class", action="store_true", help="one clip per class (the paper's Fig. 5)"
    )
    a.add_argument("--max-clips", type=int, default=10, help="clips drawn at most")
    a.add_argument("--out", default="attention.png", help="the PNG to write")
    t = kind(
        "tsne",
        "t-SNE of pooled features; one panel per embeddings.npz",
        "RUN/figures/embeddings_epoch001.npz RUN/figures/embeddings_epoch010.npz",
    )
    t.add_argument("embeddings", nargs="+", help="embeddings.npz files (evaluate, figures)")
    t.add_argument("--out", default="tsne.png", help="the PNG to write")
    c = kind("confusion", "confusion matrix from predictions.csv", "RUN/predictions.csv")
    c.add_argument("predictions", help="predictions.csv from evaluate or a run")
    c.add_argument("--title", default="", help="the figure's title")
    c.add_argument("--out", default="confusion_matrix.png", help="the PNG to write")
    u = kind("curves", "accuracy and loss curves from metrics.csv", "RUN_DIR --out curves.png")
    u.add_argument("metrics", help="metrics.csv, or a run folder trained with logger=csv")
    u.add_argument("--title", default="", help="the figure's title")
    u.add_argument("--out", default="curves.png", help="the PNG to write")
    b = kind("box", "box plot of fold accuracies from results.json files", "SWEEP_DIR")
    b.add_argument("runs", nargs="+", help="run or sweep folders (searched for results.json)")
    b.add_argument("--title", default="", help="the figure's title")
    b.add_argument("--out", default="fold_accuracy_box.png", help="the PNG to write")
    return parser


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    print(draw(args))
    return 0


main = argv_command(run)

if __name__ == "__main__":
    sys.exit(main())
