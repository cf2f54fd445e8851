"""What every measurement shares: the settings, the run's context, timers and memory, the
synthetic clips, and the hardware and commit that the report names."""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from ..utils.errors import ConfigError
from ..utils.schema import compose
from .presets import PRESETS

# Dense (no sparsity) bf16 tensor-core peak from NVIDIA's H100 data sheet, in FLOP/s. This is the
# spec value, not a measurement: SXM5 989.4 TFLOP/s, PCIe 756 TFLOP/s (H200 = H100 SXM5 compute).
GPU_BF16_PEAK_SPEC = {"H100 PCIe": 756.0e12, "H100": 989.4e12, "H200": 989.4e12}


# --- settings ------------------------------------------------------------------------------------
def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    """The preset with the flags given on the command line; a ConfigError for a bad choice."""
    s = dict(PRESETS[args.preset])
    for key in s:
        value = getattr(args, key, None)
        if value is not None:
            s[key] = value
    if s["device"] == "auto":
        s["device"] = "cuda" if torch.cuda.is_available() else "cpu"
    if s["device"] == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda but no GPU is visible (use --preset cpu)")
    if s["epochs"] < 2:
        raise ConfigError("--epochs must be at least 2 (the first one is warm-up)")
    if s["rounds"] < 1:
        raise ConfigError("--rounds must be at least 1")
    train_clips = s["steps"] * s["batch_size"]
    s["clips_per_class_per_fold"] = max(2, math.ceil(train_clips / (4 * s["num_classes"])))
    return s


def overrides_for(s: dict[str, Any], root: Path, cache: Path, out: Path, on_device: bool):
    """conf/train.yaml overrides for the settings: the synthetic ESC-50 layout, no logger."""
    return [
        "data=esc50",
        f"data.root={root}",
        "data.download=false",
        f"data.cache_dir={cache}",
        f"data.num_classes={s['num_classes']}",
        f"data.clip_seconds={s['clip_seconds']}",
        f"data.batch_size={s['batch_size']}",
        f"data.eval_batch_size={s['eval_batch_size']}",
        f"data.num_workers={s['num_workers']}",
        f"data.on_device={str(on_device).lower()}",
        f"backbone={s['backbone']}",
        f"attention={s['attention']}",
        f"attention.channels={s['channels']}",
        "mixup=off",
        "logger=none",
        f"trainer={'gpu' if s['device'] == 'cuda' else 'cpu'}",
        f"trainer.precision={s['precision']}",
        f"trainer.max_epochs={s['epochs']}",
        f"+trainer.limit_train_batches={s['steps']}",
        f"channels_last={str(s['channels_last']).lower()}",
        f"compile={str(s['compile']).lower()}",
        f"paths.output_dir={out}",
    ]


# --- timing and memory ---------------------------------------------------------------------------
def make_sync(device: torch.device) -> Callable[[], None]:
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def _status_kb(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{field}:\s+(\d+)\s+kB", text, re.M)
    return int(m.group(1)) if m else None


class Memory:
    """Peak RSS of this process per phase (Linux: reset through /proc/self/clear_refs), and the
    peak GPU memory allocated by torch."""

    def __init__(self, device: torch.device):
        self.device = device

    def reset(self) -> None:
        with suppress(OSError):  # without a reset: the peak since the process started
            Path("/proc/self/clear_refs").write_text("5")
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def read(self) -> dict[str, float | None]:
        hwm = _status_kb("VmHWM")
        out = {"peak_rss_mb": round(hwm / 1024, 1) if hwm else None}
        if self.device.type == "cuda":
            out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(self.device) / 2**20, 1)
        return out


def time_loader(loader, device: torch.device, sync, epochs: int = 2) -> list[float]:
    """Samples/s of iterating `loader`, each batch on `device` (host batches are copied there)."""
    rates = []
    for _ in range(epochs):
        sync()
        t, n = time.perf_counter(), 0
        for batch in loader:
            wave = batch[0].to(device, non_blocking=True)
            batch[1].to(device, non_blocking=True)
            n += wave.shape[0]
        sync()
        rates.append(n / (time.perf_counter() - t))
    return rates


def fmt(rates: Sequence[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in rates)


def best(rates: Sequence[float]) -> float:
    return max(rates) if rates else float("nan")


# --- the run's context and its data --------------------------------------------------------------
@dataclass
class Context:
    """What each measurement needs: the settings, the device with its timer sync and memory
    probe, the work folder (synthetic WAVs, cache, run folders) and the progress log."""

    settings: dict[str, Any]
    work: Path
    log: Callable[[str], None] = print
    device: torch.device = field(init=False)
    sync: Callable[[], None] = field(init=False)
    mem: Memory = field(init=False)

    def __post_init__(self) -> None:
        self.device = torch.device(self.settings["device"])
        self.sync, self.mem = make_sync(self.device), Memory(self.device)

    @property
    def root(self) -> Path:
        """The synthetic ESC-50 folder that `write_clips` fills."""
        return self.work / "synthetic-esc50"

    def cfg(self, on_device: bool, tag: str) -> DictConfig:
        """conf/train.yaml as `python -m fpam_lightning.train` composes it, outputs in work/tag."""
        out = self.work / tag
        return compose(
            "train", overrides_for(self.settings, self.root, self.work / "cache", out, on_device)
        )


def write_clips(ctx: Context) -> None:
    """The synthetic ESC-50 layout (44.1 kHz WAVs) that every measurement reads."""
    from ..data.synthetic import synthesize_esc50

    s = ctx.settings
    ctx.log(
        f"writing {5 * s['num_classes'] * s['clips_per_class_per_fold']} synthetic WAVs "
        f"(44.1 kHz, {s['clip_seconds']} s) under {ctx.root}"
    )
    synthesize_esc50(
        ctx.root,
        num_classes=s["num_classes"],
        clips_per_class_per_fold=s["clips_per_class_per_fold"],
        seconds=s["clip_seconds"],
        sample_rate=44100,
    )


# --- hardware and commit -------------------------------------------------------------------------
def hardware(device: torch.device) -> dict[str, Any]:
    cpu = platform.processor()
    try:
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = m.group(1) if m else cpu
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average_1_5_15": list(os.getloadavg()),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def commit() -> str:
    """The repository's short HEAD, marked when the working tree has uncommitted work."""
    repo = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, text=True, capture_output=True, check=True
        ).stdout.strip()

    try:
        head, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted work" if dirty else "")


def gpu_peak(name: str) -> tuple[str, float] | None:
    """The data-sheet bf16 peak (name, FLOP/s) for a GPU name, most specific name first."""
    for key in sorted(GPU_BF16_PEAK_SPEC, key=len, reverse=True):
        if key.lower() in name.lower():
            return key, GPU_BF16_PEAK_SPEC[key]
    return None
