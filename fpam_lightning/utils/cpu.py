"""What this machine's CPU computes fast: the facts behind `precision=auto` and `channels_last`.

bf16 autocast runs on bf16 matrix instructions where the CPU has them (AMX, or AVX-512 BF16);
elsewhere oneDNN converts, and `precision=auto` keeps float32 there until bf16's accuracy is
checked on such a CPU.
"""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path

BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@cache
def cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


@cache
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_has_fast_bf16() -> bool:
    return any(flag in cpu_flags() for flag in BF16_FLAGS)
