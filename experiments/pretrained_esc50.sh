#!/usr/bin/env bash
# The paper's question in the paper's regime (README "Pretrained backbones"): EfficientAT's
# AudioSet-pretrained mn04_as with attention none | pyramid | fpam, 5 folds of ESC-50, one seed
# per call, recipe +experiment=esc50_pretrained_cpu (fixed on an inner split of fold 1's training
# folds before any test fold was run). Folds run outermost, so every finished fold is paired.
#
# It takes hours on 2 cores: run it in the background and run the same command again after an
# interruption. The re-run skips completed jobs and resumes a lost one from its last.ckpt.
#   ESC50=~/.cache/fpam-data/esc50 MN04=path/to/mn04_as_mAP_432.pt SEED=0 \
#     nohup experiments/pretrained_esc50.sh > pretrained_esc50_seed0.log 2>&1 &
# Then: python -m fpam_lightning.summarize "$OUT"/seed0 (fold as the unit, Holm across the table).
# Extra arguments are passed on, e.g. attention=none,pyramid,fpam model.variant=authors.
# EXPERIMENT picks the recipe (default esc50_pretrained_cpu; esc50_pretrained_searched is the
# head chosen by +experiment=search_esc50_pretrained on an inner split).
set -euo pipefail
ESC50=${ESC50:?set ESC50 to the ESC-50 folder (audio/, meta/esc50.csv)}
MN04=${MN04:?set MN04 to the mn04_as_mAP_432.pt release file}
OUT=${OUT:-$HOME/fpam-runs/pretrained_esc50}
SEED=${SEED:-0}
EXPERIMENT=${EXPERIMENT:-esc50_pretrained_cpu}
PYTHON=${PYTHON:-.venv/bin/python}
export WANDB_MODE=${WANDB_MODE:-offline} WANDB_SILENT=true
exec "$PYTHON" -m fpam_lightning.train -m +experiment="$EXPERIMENT" \
  data.root="$ESC50" backbone.checkpoint="$MN04" attention=none,pyramid,fpam seed="$SEED" \
  hydra.sweep.dir="$OUT/seed$SEED" paths.log_dir="$OUT/logs" "$@"
