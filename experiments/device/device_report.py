"""What the device check reports: the machine, the paper protocol's extrapolated time, the
bench's figures, and the markdown that puts them together (device_check.py, beside it)."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import time
from typing import Any

import torch

from fpam_lightning.benchmarks.common import commit, hardware

# The protocol the fold timing stands for: ESC-50, 5 folds of 400 clips, each fold held out
# once, so a fold trains on 1600 clips and tests (and validates every epoch) on 400.
# esc50_pretrained_cpu: 25 epochs, no validation pass, the held-out fold scored once.
PRETRAINED = {"folds": 5, "epochs": 25, "train_clips": 1600, "test_clips": 400, "validates": False}
PROTOCOL = {"folds": 5, "train_clips": 1600, "test_clips": 400, "epochs": 60}
PACKAGES = (
    "torch",
    "torchaudio",
    "torchvision",
    "lightning",
    "timm",
    "torchmetrics",
    "hydra-core",
    "omegaconf",
    "wandb",
    "soundfile",
    "onnx",
    "onnxruntime",
)


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def nvidia_smi() -> list[dict[str, str]]:
    """GPU name, driver and memory per GPU as nvidia-smi reports them ([] without one)."""
    query = "name,driver_version,memory.total,pci.bus_id"
    try:
        text = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    keys = query.split(",")
    return [
        dict(zip(keys, [v.strip() for v in line.split(",")], strict=False))
        for line in text.splitlines()
        if line.strip()
    ]


def matmul_tflops(size: int = 8192, repeats: int = 10) -> float | None:
    """A bf16 size^3 matrix product's rate on GPU 0 (after 3 warm-ups): the machine's reachable
    peak, beside the data-sheet figure the bench divides by. None without a GPU."""
    if not torch.cuda.is_available():
        return None
    a = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize()
    rate = 2 * size**3 * repeats / (time.perf_counter() - start) / 1e12
    del a, b
    torch.cuda.empty_cache()  # the steps after this run in their own processes
    return rate


def environment() -> dict[str, Any]:
    """The machine: GPUs (model, driver, memory), CUDA and cuDNN, packages, CPU, commit."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return {
        "gpus": nvidia_smi(),
        "gpu_count": torch.cuda.device_count(),
        "cuda_available": torch.cuda.is_available(),
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
        "bf16_matmul_tflops_measured": matmul_tflops(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "hardware": hardware(device),
        "commit": commit(),
    }


def extrapolate(
    duration_s: float,
    train_clips: int,
    test_clips: int,
    epochs: int,
    protocol: dict | None = None,
) -> dict:
    """A protocol's time (the paper's by default) from one measured fold, linear in clips and
    epochs.

    A fold's work is epochs x (train + test clips): training on the train clips and validating
    on the test clips every epoch (`validates`), or once at the end. The measured time includes
    start-up and the one-off cache build, which do not grow with the data, so it errs long.
    """
    p = protocol or PROTOCOL
    full = p["epochs"] * p["train_clips"] + p["test_clips"] * (
        p["epochs"] if p.get("validates", True) else 1
    )
    scale = full / (epochs * train_clips + test_clips * (epochs if p.get("validates", True) else 1))
    fold_s = duration_s * scale
    return {
        "measured_s": duration_s,
        "measured": {"train_clips": train_clips, "test_clips": test_clips, "epochs": epochs},
        "protocol": dict(p),
        "scale": scale,
        "fold_s": fold_s,
        "protocol_s": fold_s * p["folds"],
        "kind": "extrapolation (linear in clips x epochs; start-up and the cache build scaled "
        "with it, so it errs long), not a measurement of the full protocol",
    }


def bench_figures(bench: dict[str, Any]) -> dict[str, Any]:
    """The three figures the check reports from `bench`'s JSON."""
    phases, compute = bench["phases"], bench["compute"]
    return {
        "lightning_over_bare": bench["ratios"]["lightning_over_bare"],
        "clips_per_s_lightning": phases["lightning"]["samples_per_s"],
        "clips_per_s_bare": phases["bare"]["samples_per_s"],
        "fraction_of_bf16_peak": compute.get("fraction_of_peak_lightning"),
        "peak": compute.get("peak_spec"),
    }


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def markdown(report: dict[str, Any]) -> str:
    """report.md: the machine, then one section per step with its figures and status."""
    env, steps = report["environment"], report["steps"]
    gpus = ", ".join(f"{g.get('name')} (driver {g.get('driver_version')})" for g in env["gpus"])
    lines = [
        f"# Device check ({report['date_utc']} UTC)"
        + (" - CPU REHEARSAL" if report["rehearse"] else ""),
        "",
        f"- command: `{report['command']}`",
        f"- commit: {env['commit']}",
        f"- GPUs: {gpus or 'none'} ({env['gpu_count']} visible to torch)",
        f"- torch {env['packages'].get('torch')} (CUDA {env['torch_cuda']}, cuDNN {env['cudnn']}), "
        f"python {env['python']}, CPU {env['hardware']['cpu']} x {env['hardware']['cpu_count']}",
        f"- measured bf16 8192^3 matmul: {_fmt(env['bf16_matmul_tflops_measured'], '.1f')} TFLOP/s",
        f"- packages: {', '.join(f'{k} {v}' for k, v in env['packages'].items())}",
        f"- wall time: {report['duration_s']:.1f} s",
        "",
        "| step | status | seconds | what |",
        "|---|---|---:|---|",
    ]
    for name, step in steps.items():
        seconds = _fmt(step.get("seconds"), ".1f")
        lines.append(f"| {name} | {step['status']} | {seconds} | {step.get('what', '')} |")
    bench = steps.get("bench", {}).get("figures")
    if bench:
        peak = (bench["peak"] or {}).get("name", "no data-sheet peak for this device")
        lines += [
            "",
            "## bench",
            "",
            f"- Lightning / bare loop: {_fmt(bench['lightning_over_bare'])}",
            f"- clips/s: Lightning {_fmt(bench['clips_per_s_lightning'], '.1f')}, "
            f"bare {_fmt(bench['clips_per_s_bare'], '.1f')}",
            f"- fraction of bf16 peak (Lightning; {peak}): "
            f"{_fmt(bench['fraction_of_bf16_peak'], '.4f')}",
        ]
    titles = {
        "fold": "The paper protocol (ResNet50 + FPAM, 60 epochs, 5 x 1600 training clips)",
        "pretrained_fold": "The pretrained recipe (mn04 + FPAM, 25 epochs, 5 x 1600 training "
        "clips)",
    }
    for name, title in titles.items():
        x = steps.get(name, {}).get("extrapolation")
        if x:
            m = x["measured"]
            lines += [
                "",
                f"## {title}",
                "",
                f"- measured: one fold on {m['train_clips']} training + {m['test_clips']} test "
                f"clips, {m['epochs']} epochs: {x['measured_s']:.1f} s",
                f"- EXTRAPOLATED (x{x['scale']:.2f}): one full fold {x['fold_s'] / 60:.1f} min, "
                f"the 5-fold protocol {x['protocol_s'] / 60:.1f} min",
                f"- {x['kind']}",
            ]
    ddp = steps.get("ddp", {})
    if ddp.get("devices") is not None:
        lines += ["", "## DDP", "", f"- {ddp['what']}: devices {ddp['devices']}, {ddp['status']}"]
    return "\n".join(lines) + "\n"
