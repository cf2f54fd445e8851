"""Throughput benchmark: `python -m fpam_lightning.bench [--preset cpu|paper] [options]`.

Measures, in one run on one model and data shape, in samples per second: (a) the data path alone
(the memory-mapped cache through the DataLoader, and the on-device gather path), (b) a bare
PyTorch training loop over in-memory tensors, (c) this project's Lightning `fit` (our module,
data module, callbacks and trainer config; logger off), (d) evaluation (Lightning and bare), and
the first, decoding pass over the audio against a cached epoch. It prints a table and writes JSON
and a markdown table, with the hardware, command and commit, and checks the targets of the
performance issue: (c)/(b) >= 0.95, (a)/(c) >= 10, cached epoch / first pass >= 20.

Timed epochs exclude the first (warm-up) epoch; with `--rounds N` the bare loop and the Lightning
fit alternate N times and each keeps its best epoch, so that a busy shared machine hurts both
alike. On a GPU every timer synchronises the device first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .benchmarks.presets import PRESETS
from .utils.cli import argv_command, command_parser
from .utils.conf import group_options

if TYPE_CHECKING:
    from .benchmarks.common import Context

PROG = "python -m fpam_lightning.bench"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = command_parser(PROG, __doc__, f"{PROG} --preset cpu --rounds 3")
    ap.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="cpu",
        help="cpu: reduced, a few minutes on a CPU; paper: the paper's shape on a GPU",
    )
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default: the preset's")
    ap.add_argument("--backbone", help="default: the preset's")
    ap.add_argument("--attention", choices=group_options("attention"), help="default: the preset's")
    ap.add_argument("--channels", type=int, help="the attention head's channel count")
    ap.add_argument("--clip-seconds", type=float, help="default: the preset's")
    ap.add_argument("--num-classes", type=int, help="default: the preset's")
    ap.add_argument("--batch-size", type=int, help="default: the preset's")
    ap.add_argument("--eval-batch-size", type=int, help="default: the preset's")
    ap.add_argument("--steps", type=int, help="training batches per epoch")
    ap.add_argument("--epochs", type=int, help="epochs per fit, the first one is warm-up")
    ap.add_argument("--rounds", type=int, help="alternate bare and Lightning this many times")
    ap.add_argument("--num-workers", type=int, help="default: the preset's")
    ap.add_argument("--precision", choices=["32-true", "bf16-mixed"], help="default: the preset's")
    ap.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="default: the preset's",
    )
    ap.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="default: the preset's",
    )
    ap.add_argument(
        "--precision-grid",
        action="store_true",
        help="instead: float32 vs bf16 x NCHW vs channels_last training steps of resnet18, "
        "resnet50 (paper stem) and mn04 on this CPU (the facts behind precision=auto)",
    )
    ap.add_argument(
        "--grid-models",
        default=None,
        help="with --precision-grid: a comma-separated subset of resnet18, 'resnet50 (paper "
        "stem)', mn04 (default: all three)",
    )
    ap.add_argument(
        "--work-dir",
        help="where the synthetic WAVs and cache go (default: a temp folder, removed afterwards)",
    )
    ap.add_argument(
        "--out",
        default=None,
        help="output path without suffix (default experiments/results/bench_<device>)",
    )
    return ap.parse_args(argv)


def measure(ctx: Context) -> dict[str, Any]:
    """Every measurement, in order; the measured part of the report (`report.summarize`)."""
    import torch

    from .benchmarks import data_path, first_pass, report, rounds
    from .benchmarks.common import write_clips
    from .training.build import build_datamodule

    torch.backends.cudnn.benchmark = ctx.device.type == "cuda"
    write_clips(ctx)
    dm = build_datamodule(ctx.cfg(on_device=False, tag="data").data)
    phases = first_pass.measure(ctx, dm)  # leaves dm set up, its cache filled
    phases.update(data_path.measure(ctx, dm))
    clips = data_path.device_clips(dm, ctx.device)
    del dm
    trained, flops = rounds.alternate(ctx, clips)
    return report.summarize({**phases, **trained}, flops, ctx.device)


def precision_grid(argv: list[str], out: str | None, models: str | None = None) -> int:
    """`--precision-grid`: the table of `benchmarks/precision_grid.py`, with the CPU and commit."""
    import json

    from .benchmarks import precision_grid
    from .benchmarks.common import commit
    from .utils.cpu import cpu_has_fast_bf16, cpu_model

    started = time.time()
    chosen = [m.strip() for m in models.split(",")] if models else None
    rows = precision_grid.measure(chosen, log=lambda m: print(f"[bench] {m}", flush=True))
    shape = "batch 32 (ResNet50: 8) of 1 x 500 x 128, forward + backward + AdamW, best of 2 rounds"
    record = {
        "command": "python -m fpam_lightning.bench " + " ".join(argv),
        "commit": commit(),
        "cpu": cpu_model(),
        "cpu_has_fast_bf16": cpu_has_fast_bf16(),
        "cores": os.cpu_count(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)),
        "load_average_at_end": list(os.getloadavg()),
        "rows": rows,
    }
    table = precision_grid.markdown(rows, f"{record['cpu']} ({record['cores']} cores)", shape)
    path = Path(out or "experiments/results/precision_grid_cpu")
    path.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    path.with_suffix(".md").write_text(
        f"{table}\nCommand: `{record['command']}`, commit {record['commit']}, "
        f"{record['date_utc']} UTC, load average at the end {record['load_average_at_end']}.\n"
    )
    print(table)
    return 0


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.precision_grid:
        return precision_grid(argv, args.out, args.grid_models)
    import torch  # here, after parsing: `--help` needs no torch

    from .benchmarks import report
    from .benchmarks.common import Context, commit, hardware, settings_from

    s = settings_from(args)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tmp = None if args.work_dir else tempfile.mkdtemp(prefix="fpam_bench_")
    work, device = Path(args.work_dir or tmp), torch.device(s["device"])
    started, hw = time.time(), hardware(device)
    try:
        results = measure(Context(s, work, log=lambda m: print(f"[bench] {m}", flush=True)))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    full_report = {
        "command": "python -m fpam_lightning.bench " + " ".join(argv),
        "commit": commit(),
        "hardware": hw,
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1),
        "load_average_at_end": list(os.getloadavg()),
        "settings": s,
        **results,
    }
    out = Path(args.out or f"experiments/results/bench_{device.type}")
    print(report.write(full_report, out))
    print(f"[bench] wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


main = argv_command(run)

if __name__ == "__main__":
    sys.exit(main())
