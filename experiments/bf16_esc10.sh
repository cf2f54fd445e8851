#!/usr/bin/env bash
# Does bf16 autocast cost accuracy? (issue 25; README "Pretrained backbones", precision=auto.)
# The ESC-10 from-scratch recipe (+experiment=esc10_scratch_cpu), 5 folds, float32 against
# bf16-mixed, one seed per call, NCHW in both: channels_last changes the speed, not the question,
# and was 4-14x slower on our AVX2 CPU. Folds run outermost, so every finished fold is paired.
# Re-run the same command after an interruption: completed jobs are skipped, a lost one resumes
# from its last.ckpt.
#   ESC10=~/.cache/fpam-data/esc10 SEED=0 nohup experiments/bf16_esc10.sh > bf16_seed0.log 2>&1 &
# Then: python -m fpam_lightning.summarize "$OUT"/seed0 (trainer.precision is the compared key;
# fold as the unit). bf16 is "no resolved accuracy loss" when the Holm-adjusted interval of
# bf16 - float32 includes zero; say also how small a loss the sweep could have resolved.
set -euo pipefail
ESC10=${ESC10:?set ESC10 to the ESC-10 folder (make_wav.py OUT --esc10, or the official WAVs)}
OUT=${OUT:-$HOME/fpam-runs/bf16_esc10}
SEED=${SEED:-0}
PYTHON=${PYTHON:-.venv/bin/python}
export WANDB_MODE=${WANDB_MODE:-offline} WANDB_SILENT=true
exec "$PYTHON" -m fpam_lightning.train -m +experiment=esc10_scratch_cpu data.root="$ESC10" \
  trainer.precision=32-true,bf16-mixed channels_last=false seed="$SEED" \
  hydra.sweep.dir="$OUT/seed$SEED" paths.log_dir="$OUT/logs" "$@"
