#!/bin/sh
# `make device-check`: on a GPU machine, install what the image lacks from experiments/device/wheelhouse
# (no network: pip reads the wheelhouse alone), then run the device check into one folder.
#   sh experiments/device/check.sh OUT_DIR [device_check options...]
set -u
out=${1:-device_check}
[ $# -gt 0 ] && shift
py=${PYTHON:-python3}
mkdir -p "$out"
if "$py" -c "import hydra, omegaconf, wandb, soundfile" 2>/dev/null; then
  echo "hydra, omegaconf, wandb and soundfile are installed: nothing to install" >"$out/install.log"
elif [ -d experiments/device/wheelhouse ]; then
  if ! "$py" -m pip install --no-index --find-links experiments/device/wheelhouse --no-cache-dir \
      --disable-pip-version-check -r experiments/device/requirements.txt >"$out/install.log" 2>&1; then
    echo "error: installing experiments/device/wheelhouse failed; see $out/install.log" >&2
    exit 2
  fi
else
  echo "error: hydra, omegaconf, wandb or soundfile is missing and there is no experiments/device/wheelhouse" \
    "(make wheelhouse builds it)" >&2
  exit 2
fi
# The package from this checkout, whether or not it is installed.
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec "$py" experiments/device/device_check.py --out "$out" "$@"
