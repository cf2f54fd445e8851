"""The first, decoding pass over the audio against an epoch over the cache it fills.

The first pass (`prepare_data`) decodes and resamples every synthetic WAV into the memory-mapped
cache; the cached epoch then reads every clip back through the DataLoader onto the device. The
target: cached epoch / first pass >= 20.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from .common import Context, best, time_loader

if TYPE_CHECKING:
    from ..data.base import FoldDataModule


def measure(ctx: Context, dm: FoldDataModule) -> dict[str, dict[str, Any]]:
    """Phases `first_pass` and `cached_epoch` in clips/s; leaves `dm` set up for fitting."""
    ctx.mem.reset()
    t = time.perf_counter()
    dm.prepare_data()
    first = time.perf_counter() - t
    dm.setup("fit")
    n_all = len(dm.waves)
    phases = {"first_pass": {"clips_per_s": n_all / first, **ctx.mem.read()}}

    dm.indices["all"] = np.arange(n_all)
    ctx.mem.reset()
    cached = time_loader(dm.loader("all", shuffle=False), ctx.device, ctx.sync)
    phases["cached_epoch"] = {"clips_per_s": best(cached), **ctx.mem.read()}
    ctx.log(
        f"first pass {phases['first_pass']['clips_per_s']:.1f} clips/s, "
        f"cached epoch {phases['cached_epoch']['clips_per_s']:.1f} clips/s"
    )
    return phases
