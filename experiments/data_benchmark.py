"""Clips per second of the first (decoding) pass against a cached epoch, on real ESC-10.

The first pass decodes 44.1 kHz WAVs, resamples them to 16 kHz and writes the memory-mapped
cache (`DataModule.prepare_data`). A cached epoch reads every training clip through the
DataLoader, as training does. Each is timed in a fresh temporary cache folder.

    .venv/bin/python experiments/data_benchmark.py [--root ~/.cache/fpam-data/esc10] [--repeats 3]

The real ESC-10 in the official WAV layout: the ESC-50 release's `make_wav.py OUT --esc10`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from fpam_lightning.data import ESC50DataModule
from fpam_lightning.data.cache import build_or_load

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "experiments" / "results"


def commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True, capture_output=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], cwd=REPO, text=True, capture_output=True
    ).stdout.strip()
    return head + (" with uncommitted work" if dirty else "")


def datamodule(root: Path, cache: Path, num_workers: int) -> ESC50DataModule:
    return ESC50DataModule(
        str(root),
        subset="esc10",
        num_classes=10,
        sample_rate=16000,
        clip_seconds=5.0,
        batch_size=32,
        num_workers=num_workers,
        cache_dir=str(cache),
        persistent_workers=False,
    )


def first_pass(root: Path, threads: int) -> float:
    """Seconds to decode, resample and cache every clip with `threads` decoding threads."""
    with tempfile.TemporaryDirectory() as cache:
        dm = datamodule(root, Path(cache), 0)
        table = dm.read_table()
        start = time.perf_counter()
        cached = build_or_load(
            dm.name, table.files, dm.audio_dir, Path(cache), 16000, 80000, workers=threads
        )
        seconds = time.perf_counter() - start
        assert cached.built and not cached.bad
        return seconds


def cached_epoch(root: Path, cache: Path, num_workers: int) -> tuple[float, int]:
    """Seconds for one pass over the training loader of a cache built beforehand."""
    dm = datamodule(root, cache, num_workers)
    dm.prepare_data()
    dm.setup()
    loader = dm.train_dataloader()
    n = 0
    start = time.perf_counter()
    for wave, _, _ in loader:
        n += wave.shape[0]
    return time.perf_counter() - start, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.home() / ".cache" / "fpam-data" / "esc10")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = args.root.resolve()
    clips = len(datamodule(root, Path(tempfile.gettempdir()), 0).read_table())

    runs: dict[str, list[float]] = {}
    for threads in sorted({1, min(8, os.cpu_count() or 1)}):
        runs[f"first_pass_threads{threads}"] = [
            clips / first_pass(root, threads) for _ in range(args.repeats)
        ]

    cache = Path(tempfile.mkdtemp())
    try:
        datamodule(root, cache, 0).prepare_data()  # build once, untimed
        for workers in (0, 2):
            rates = []
            for _ in range(args.repeats):
                seconds, n = cached_epoch(root, cache, workers)
                rates.append(n / seconds)
            runs[f"cached_epoch_loader_workers{workers}"] = rates
    finally:
        shutil.rmtree(cache)

    summary = {
        k: {
            "clips_per_s_median": round(sorted(v)[len(v) // 2], 1),
            "clips_per_s_runs": [round(x, 1) for x in v],
        }
        for k, v in runs.items()
    }
    record = {
        "what": "ESC-10 (real, 400 clips of 5 s at 44.1 kHz 16-bit) -> 16 kHz, 5 s "
        "(80000 samples); first pass = decode+resample+write cache; cached epoch = "
        "the 320 training clips of fold 1 through the DataLoader, batch 32, shuffled, "
        "drop_last",
        "hardware": f"2-core CPU sandbox, no GPU ({platform.processor() or platform.machine()}, "
        f"os.cpu_count()={os.cpu_count()}, shared with other jobs)",
        "command": ".venv/bin/python experiments/data_benchmark.py",
        "commit": commit(),
        "torch": torch.__version__,
        "torch_threads_main_process": torch.get_num_threads(),
        "load_average_at_end": os.getloadavg()[0],
        "repeats": args.repeats,
        "clips": clips,
        "results": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "data_benchmark.json").write_text(json.dumps(record, indent=2) + "\n")
    med = {k: v["clips_per_s_median"] for k, v in summary.items()}
    threads = max(k for k in med if k.startswith("first"))
    line = (
        f"- ESC-10 at 16 kHz, {record['hardware']}, load average "
        f"{record['load_average_at_end']:.1f}, commit {record['commit']}: first (decoding) "
        f"pass {med['first_pass_threads1']} clips/s with 1 thread, {med[threads]} with "
        f"{threads.rsplit('threads', 1)[1]}; cached epoch through the DataLoader "
        f"{med['cached_epoch_loader_workers0']} clips/s with num_workers=0, "
        f"{med['cached_epoch_loader_workers2']} with num_workers=2 (medians of "
        f"{args.repeats}; `{record['command']}`)\n"
    )
    (RESULTS / "data_benchmark.md").write_text(line)
    print(json.dumps(record, indent=2))
    print(line, end="")


if __name__ == "__main__":
    main()
