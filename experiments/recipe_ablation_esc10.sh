#!/usr/bin/env bash
# What each part of esc10_scratch_cpu buys: a cumulative ablation on ESC-10, 5 folds per step,
# one sweep at a time, then one report with each step paired against the one before.
#   experiments/recipe_ablation_esc10.sh /path/to/esc10 OUT [extra overrides...]
# Steps: 0_baseline (SGD 0.01 + step decay, no augmentation, no EMA) -> 1_optim (AdamW, warm-up
# + cosine, label smoothing) -> 2_augment (mixup, SpecAugment, time shift, gain) -> 3_ema (the
# whole recipe). Each step is ~25 min on 2 CPU cores. Results: experiments/README.md.
set -euo pipefail
root=${1:?usage: $0 ESC10_ROOT OUT [overrides...]}
out=${2:?usage: $0 ESC10_ROOT OUT [overrides...]}
shift 2
common=(+experiment=esc10_scratch_cpu "data.root=$root" logger=csv trainer.enable_progress_bar=false "$@")
no_optim=(optim=sgd optim.lr=0.01 optim.weight_decay=0.0 scheduler=step scheduler.warmup_epochs=0
  loss.label_smoothing=0.0)
no_augment=(augment.time_shift=0.0 augment.gain_db=0.0 augment.freq_mask=0 augment.time_mask=0
  mixup=off)
step() {
  local name=$1
  shift
  python -m fpam_lightning.train -m "${common[@]}" "$@" "hydra.sweep.dir=$out/$name"
}
step 0_baseline "${no_optim[@]}" "${no_augment[@]}" ema.enabled=false
step 1_optim "${no_augment[@]}" ema.enabled=false
step 2_augment ema.enabled=false
step 3_ema
python -m fpam_lightning.summarize "$out"/0_baseline "$out"/1_optim "$out"/2_augment "$out"/3_ema \
  --steps --out "$out"
