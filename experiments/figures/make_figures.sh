#!/usr/bin/env bash
# Draw the paper's figures from a trained run folder (and a sweep folder for the box plot).
#
#   experiments/figures/make_figures.sh RUN_DIR [SWEEP_DIR] [OUT_DIR]
#
# RUN_DIR: a job folder of `python -m fpam_lightning.train ... callbacks=figures logger.csv=true`
#          (checkpoints/last.ckpt, predictions.csv, figures/embeddings_epochNNN.npz, csv/metrics.csv).
# SWEEP_DIR: a multirun folder (or any folder) holding the jobs' results.json, for the box plot.
# OUT_DIR: where the PNGs go (default RUN_DIR/paper_figures).
# PYTHON: the interpreter (default .venv/bin/python when it exists, else python).
set -euo pipefail

RUN=${1:?usage: make_figures.sh RUN_DIR [SWEEP_DIR] [OUT_DIR]}
SWEEP=${2:-}
OUT=${3:-$RUN/paper_figures}
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
fi
FIG=("$PYTHON" -m fpam_lightning.figures)
CKPT=$RUN/checkpoints/last.ckpt
mkdir -p "$OUT"

need() { [[ -e "$1" ]] || { echo "make_figures: $1 is missing ($2)" >&2; exit 2; }; }
need "$CKPT" "train the run first"
need "$RUN/predictions.csv" "train with callbacks=figures, or run fpam_lightning.evaluate"

# Fig. 5: log-mel spectrogram next to the FPAM spatial attention maps, one clip per class
# (the most confidently correct one; up to 10 classes).
"${FIG[@]}" attention "$CKPT" --predictions "$RUN/predictions.csv" --per-class \
  --out "$OUT/fig5_attention.png"

# Fig. 6: t-SNE of the held-out fold's pooled features, one panel per epoch the callback drew.
shopt -s nullglob
EMB=("$RUN"/figures/embeddings_epoch*.npz)
if ((${#EMB[@]})); then
  "${FIG[@]}" tsne "${EMB[@]}" --out "$OUT/fig6_tsne.png"
else
  echo "make_figures: no $RUN/figures/embeddings_epoch*.npz (train with callbacks=figures): no Fig. 6" >&2
fi

# Figs. 7/8: confusion matrix of the held-out fold after the last epoch (Fig. 7 from an
# ESC-50 run, Fig. 8 from an ESC-10 run); per-epoch ones are already in $RUN/figures/.
"${FIG[@]}" confusion "$RUN/predictions.csv" --title "$(basename "$RUN")" \
  --out "$OUT/fig7_8_confusion.png"

# Fig. 9: train and held-out accuracy and loss per epoch, from csv/metrics.csv.
if [[ -n "$(find "$RUN" -name metrics.csv -print -quit)" ]]; then
  "${FIG[@]}" curves "$RUN" --out "$OUT/fig9_curves.png"
else
  echo "make_figures: no metrics.csv under $RUN (train with logger.csv=true): no Fig. 9" >&2
fi

# The tutorial's box plot: fold accuracies per configuration over a sweep.
if [[ -n "$SWEEP" ]]; then
  "${FIG[@]}" box "$SWEEP" --out "$OUT/box_fold_accuracy.png"
fi
ls -l "$OUT"
