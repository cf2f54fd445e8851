#!/usr/bin/env bash
# The SLURM launcher's overhead and a requeue's round trip, on the cluster of `make slurm-up`.
#   experiments/slurm_overhead.sh [OUT_DIR]     (results: experiments/slurm.md)
# 1. The same 4-job synthetic sweep (tiny set, 1 epoch, resnet18) through hydra/launcher=slurm_cpu
#    and through the basic (local, sequential) launcher, each on its own empty data folder.
# 2. A 12-epoch job through SLURM sent USR2 (the time-limit warning) once its first last.ckpt is
#    on disk: seconds from the signal to the sweep's end, and SLURM's own requeue/restart times.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
PY=${PY:-.venv/bin/python}
export WANDB_MODE=offline WANDB_SILENT=true HF_HUB_OFFLINE=1
TINY="data=synthetic data.num_classes=4 data.clip_seconds=0.5 data.batch_size=8 data.num_workers=0
 data.synthetic.num_classes=4 data.synthetic.clips_per_class_per_fold=2 data.synthetic.seconds=0.5
 data.synthetic.sample_rate=16000 backbone=resnet18 attention.channels=32 trainer=cpu
 trainer.enable_progress_bar=false"
sweep() {  # sweep NAME LAUNCHER EXTRA...
  local name=$1 launcher=$2; shift 2
  $PY -m fpam_lightning.train -m $TINY "paths.data_dir=$OUT/$name/data" "hydra/launcher=$launcher" \
    "hydra.sweep.dir=$OUT/$name/sweep" "paths.log_dir=$OUT/$name/logs" "$@" >"$OUT/$name.log" 2>&1
}
t0=$(date +%s.%N); sweep slurm slurm_cpu trainer.max_epochs=1 logger=none data.fold=1,2,3,4; t1=$(date +%s.%N)
OMP_NUM_THREADS=1 sweep basic basic trainer.max_epochs=1 logger=none data.fold=1,2,3,4; t2=$(date +%s.%N)
python3 -c "s=$t1-$t0; b=$t2-$t1; print(f'4-job sweep: slurm_cpu {s:.1f} s, basic {b:.1f} s, ratio {s/b:.2f}')"

sweep requeue slurm_cpu trainer.max_epochs=12 logger=wandb data.fold=1 &
pid=$!
until [ -f "$OUT/requeue/sweep/0/checkpoints/last.ckpt" ]; do sleep 0.5; done
job=$(ls "$OUT/requeue/sweep/.submitit" | grep -E '^[0-9]+$' | head -1)
t3=$(date +%s.%N); scancel --signal=USR2 "$job"; wait "$pid"; t4=$(date +%s.%N)
python3 -c "print(f'requeue round trip (USR2 to the sweep\'s end, 12 epochs): {$t4-$t3:.1f} s')"
sacct -D -X -j "$job" --format=JobID,State,Start,End
grep -h "received SIGUSR2\|resuming from" "$OUT/requeue/sweep/0/train.log"
