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
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext, suppress
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, Trainer, seed_everything
from omegaconf import DictConfig

# Dense (no sparsity) bf16 tensor-core peak from NVIDIA's H100 data sheet, in FLOP/s. This is the
# spec value, not a measurement: SXM5 989.4 TFLOP/s, PCIe 756 TFLOP/s (H200 = H100 SXM5 compute).
GPU_BF16_PEAK_SPEC = {"H100 PCIe": 756.0e12, "H100": 989.4e12, "H200": 989.4e12}

TARGETS = {"lightning_over_bare": 0.95, "data_over_train": 10.0, "cached_over_first": 20.0}

PRESETS: dict[str, dict[str, Any]] = {
    # A few minutes on a 2-core CPU: ResNet18 + FPAM (256 channels) on 1 s clips (1 x 41 x 64).
    "cpu": dict(
        backbone="resnet18",
        attention="fpam",
        channels=256,
        clip_seconds=1.0,
        num_classes=10,
        batch_size=8,
        steps=6,
        epochs=3,
        eval_batch_size=32,
        num_workers=0,  # worker processes only compete with the two compute threads here
        device="cpu",
        precision="32-true",
        channels_last=False,
        compile=False,
        rounds=3,
    ),
    # The paper's shape on a GPU: ResNet50 + FPAM (1024) on 5 s clips (1 x 201 x 64), ESC-50 size.
    "paper": dict(
        backbone="resnet50",
        attention="fpam",
        channels=1024,
        clip_seconds=5.0,
        num_classes=50,
        batch_size=32,
        steps=50,
        epochs=4,
        eval_batch_size=128,
        num_workers=8,
        device="cuda",
        precision="bf16-mixed",
        channels_last=True,
        compile=False,
        rounds=1,
    ),
}


# --- timing and memory ----------------------------------------------------------------------------
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


def _fmt(rates: Sequence[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in rates)


def _best(rates: Sequence[float]) -> float:
    return max(rates) if rates else float("nan")


# --- the configuration, the data and the Lightning parts -----------------------------------------
def compose(overrides: list[str]) -> DictConfig:
    """conf/train.yaml with overrides, as `python -m fpam_lightning.train` composes it."""
    from .utils.config import compose as compose_config

    return compose_config("train", overrides)


def lightning_parts(cfg: DictConfig, callbacks: Iterable[Callback] = (), **trainer_kw):
    """The (trainer, module, datamodule) that `train()` builds from `cfg`, without a logger."""
    from .training.build import build_datamodule, build_module, build_trainer
    from .training.callbacks import build_callbacks

    seed_everything(int(cfg.seed), workers=True, verbose=False)  # as train() does
    dm = build_datamodule(cfg)
    dm.prepare_data()
    module = build_module(cfg, dm)
    out = Path(cfg.paths.output_dir)
    trainer = build_trainer(cfg, out, [*build_callbacks(cfg, out, False), *callbacks], **trainer_kw)
    return trainer, module, dm


class EpochClock(Callback):
    """Wall time of each training epoch (start to start: hooks and checkpoints included)."""

    def __init__(self, sync: Callable[[], None]):
        self.sync, self.marks, self.samples = sync, [], []

    def on_train_epoch_start(self, trainer, pl_module):
        self.sync()
        self.marks.append(time.perf_counter())
        self.samples.append(0)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.samples[-1] += int(batch[0].shape[0])

    def on_train_end(self, trainer, pl_module):
        self.sync()
        self.marks.append(time.perf_counter())

    def rates(self) -> list[float]:
        spans = np.diff(self.marks)
        return [n / s for n, s in zip(self.samples, spans, strict=False)]


class EvalClock(Callback):
    """Wall time of each validation loop, with the samples it scored."""

    def __init__(self, sync: Callable[[], None]):
        self.sync, self.rates, self._t, self._n = sync, [], 0.0, 0

    def on_validation_epoch_start(self, trainer, pl_module):
        self.sync()
        self._t, self._n = time.perf_counter(), 0

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ):
        self._n += int(batch[0].shape[0])

    def on_validation_epoch_end(self, trainer, pl_module):
        self.sync()
        self.rates.append(self._n / (time.perf_counter() - self._t))


# --- the measurements ------------------------------------------------------------------------
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


def autocast_for(precision: str, device: torch.device):
    if precision == "bf16-mixed":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision in ("32-true", "32", 32):
        return nullcontext()
    raise ValueError(f"--precision {precision!r}: the bench supports 32-true and bf16-mixed")


class BareLoop:
    """Plain PyTorch: our network, SGD, in-memory tensors on the device; no framework at all."""

    def __init__(
        self,
        module,
        waves: torch.Tensor,
        targets: torch.Tensor,
        device,
        precision,
        channels_last: bool,
        sync,
    ):
        self.net = module.net.to(device)
        self.classify = module._classify  # compiled when the module compiles it
        self.opt = torch.optim.SGD(self.net.parameters(), **_sgd_args(module.optim_cfg))
        self.waves, self.targets, self.device = waves, targets, device
        self.precision, self.channels_last, self.sync = precision, channels_last, sync

    def spec(self, wave: torch.Tensor) -> torch.Tensor:
        spec = self.net.frontend(wave)
        if self.channels_last:
            spec = spec.contiguous(memory_format=torch.channels_last)
        return spec

    def step(self, wave: torch.Tensor, y: torch.Tensor, classify=None) -> torch.Tensor:
        with autocast_for(self.precision, self.device):
            logits = (classify or self.classify)(self.spec(wave)).logits
            loss = F.cross_entropy(logits, y)
        loss.backward()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return loss

    def epoch(self, batch_size: int, steps: int) -> float:
        self.net.train()
        self.sync()
        t = time.perf_counter()
        perm = torch.randperm(len(self.waves), device=self.device)
        for b in range(steps):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            self.step(self.waves[idx], self.targets[idx])
        self.sync()
        return steps * batch_size / (time.perf_counter() - t)

    @torch.inference_mode()
    def evaluate(self, waves: torch.Tensor, batch_size: int) -> float:
        self.net.eval()
        self.sync()
        t = time.perf_counter()
        for b in range(0, len(waves), batch_size):
            with autocast_for(self.precision, self.device):
                self.classify(self.spec(waves[b : b + batch_size])).logits.argmax(-1)
        self.sync()
        return len(waves) / (time.perf_counter() - t)

    def train_flops_per_sample(self, batch_size: int) -> int:
        """Forward + backward FLOPs of one training step per sample (FlopCounterMode: convs and
        matmuls; the STFT and element-wise operations are not counted)."""
        from torch.utils.flop_counter import FlopCounterMode

        wave, y = self.waves[:batch_size], self.targets[:batch_size]
        self.net.train()
        with FlopCounterMode(display=False) as counter:
            self.step(wave, y, classify=self.net.classify)
        return int(counter.get_total_flops()) // batch_size


def _sgd_args(cfg: dict) -> dict:
    cfg = dict(cfg)
    if cfg.pop("name", "sgd") != "sgd":
        raise ValueError("the bench times the paper's SGD: use optim=sgd")
    return dict(
        lr=cfg.get("lr", 0.01),
        momentum=cfg.get("momentum", 0.9),
        weight_decay=cfg.get("weight_decay", 0.0),
        nesterov=bool(cfg.get("nesterov")),
    )


# --- the run ---------------------------------------------------------------------------------
def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    s = dict(PRESETS[args.preset])
    for key in s:
        value = getattr(args, key, None)
        if value is not None:
            s[key] = value
    if s["device"] == "auto":
        s["device"] = "cuda" if torch.cuda.is_available() else "cpu"
    if s["device"] == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but no GPU is visible (use --preset cpu)")
    train_clips = s["steps"] * s["batch_size"]
    s["clips_per_class_per_fold"] = max(2, math.ceil(train_clips / (4 * s["num_classes"])))
    return s


def overrides_for(s: dict[str, Any], root: Path, cache: Path, out: Path, on_device: bool):
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
    repo = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=repo, text=True, capture_output=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted work" if dirty else "")


def gpu_peak(name: str) -> tuple[str, float] | None:
    for key in sorted(GPU_BF16_PEAK_SPEC, key=len, reverse=True):
        if key.lower() in name.lower():
            return key, GPU_BF16_PEAK_SPEC[key]
    return None


def run(s: dict[str, Any], work: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    from .data.synthetic import synthesize_esc50

    device = torch.device(s["device"])
    sync, mem = make_sync(device), Memory(device)
    phases: dict[str, dict[str, Any]] = {}
    torch.backends.cudnn.benchmark = device.type == "cuda"

    root = work / "synthetic-esc50"
    log(
        f"writing {5 * s['num_classes'] * s['clips_per_class_per_fold']} synthetic WAVs "
        f"(44.1 kHz, {s['clip_seconds']} s) under {root}"
    )
    synthesize_esc50(
        root,
        num_classes=s["num_classes"],
        clips_per_class_per_fold=s["clips_per_class_per_fold"],
        seconds=s["clip_seconds"],
        sample_rate=44100,
    )

    def cfg_for(on_device: bool, tag: str) -> DictConfig:
        return compose(overrides_for(s, root, work / "cache", work / tag, on_device))

    # First pass: decode + resample every clip into the cache; then a cached epoch over all clips.
    from .training.build import build_datamodule

    dm = build_datamodule(cfg_for(False, "data"))
    mem.reset()
    t = time.perf_counter()
    dm.prepare_data()
    first = time.perf_counter() - t
    dm.setup("fit")
    n_all = len(dm.waves)
    phases["first_pass"] = {"clips_per_s": n_all / first, **mem.read()}
    all_clips = np.arange(n_all)
    dm.indices["all"] = all_clips
    mem.reset()
    cached = time_loader(dm._loader("all", shuffle=False), device, sync)
    phases["cached_epoch"] = {"clips_per_s": _best(cached), **mem.read()}
    log(
        f"first pass {phases['first_pass']['clips_per_s']:.1f} clips/s, "
        f"cached epoch {phases['cached_epoch']['clips_per_s']:.1f} clips/s"
    )

    # (a) the data path alone: one training epoch of batches, host (memmap) and on-device.
    mem.reset()
    host = time_loader(dm.train_dataloader(), device, sync)
    phases["data_host"] = {"samples_per_s": _best(host), **mem.read()}
    mem.reset()
    dm.on_device, dm.trainer = True, Trainer(accelerator=device.type, devices=1, logger=False)
    dev = time_loader(dm.train_dataloader(), device, sync)
    phases["data_on_device"] = {"samples_per_s": _best(dev), **mem.read()}
    train_idx = dm.indices["train"]
    waves = torch.from_numpy(np.asarray(dm.waves[train_idx])).to(device)
    targets = torch.as_tensor(dm.table.targets[train_idx]).to(device)
    test_waves = torch.from_numpy(np.asarray(dm.waves[dm.indices["test"]])).to(device)
    del dm
    log(
        f"data path: host {phases['data_host']['samples_per_s']:.0f} samples/s, "
        f"on-device {phases['data_on_device']['samples_per_s']:.0f} samples/s"
    )

    # (b) bare loop and (c) Lightning fit, alternating `rounds` times; the best epoch of each.
    bare_rates, fit_rates, host_fit_rates = [], [], []
    bare_mem = fit_mem = host_mem = {}
    for r in range(s["rounds"]):
        torch.manual_seed(0)
        from .training.build import build_module

        cfg = cfg_for(True, f"fit{r}")
        bare = BareLoop(
            build_module(cfg, build_datamodule(cfg)),
            waves,
            targets,
            device,
            s["precision"],
            s["channels_last"],
            sync,
        )
        mem.reset()
        rates = [bare.epoch(s["batch_size"], s["steps"]) for _ in range(s["epochs"])]
        bare_rates += rates[1:]
        bare_mem = mem.read()
        log(f"round {r}: bare loop {_fmt(rates)} samples/s (first = warm-up)")
        if r == 0:
            flops = bare.train_flops_per_sample(s["batch_size"])
            eval_bare = [bare.evaluate(test_waves, s["eval_batch_size"]) for _ in range(3)]
        del bare

        for tag, on_device, sink in (
            ("lightning", True, fit_rates),
            ("lightning_host", False, host_fit_rates),
        ):
            if tag == "lightning_host" and r > 0:
                continue
            torch.manual_seed(0)
            clock = EpochClock(sync)
            trainer, module, dm = lightning_parts(
                cfg_for(on_device, f"{tag}{r}"), [clock], check_val_every_n_epoch=10**6
            )
            mem.reset()
            trainer.fit(module, datamodule=dm)
            rates = clock.rates()
            sink += rates[1:]
            if tag == "lightning":
                fit_mem = mem.read()
            else:
                host_mem = mem.read()
            log(f"round {r}: {tag} fit {_fmt(rates)} samples/s")
            if tag == "lightning" and r == 0:  # (d) evaluation through Lightning
                evals = EvalClock(sync)
                trainer2, _, _ = lightning_parts(cfg_for(True, "eval"), [evals])
                mem.reset()
                for _ in range(3):
                    trainer2.validate(module, datamodule=dm, verbose=False)
                phases["eval_lightning"] = {"samples_per_s": _best(evals.rates), **mem.read()}
            del trainer, module, dm

    phases["bare"] = {"samples_per_s": _best(bare_rates), "epochs": bare_rates, **bare_mem}
    phases["lightning"] = {"samples_per_s": _best(fit_rates), "epochs": fit_rates, **fit_mem}
    phases["lightning_host"] = {
        "samples_per_s": _best(host_fit_rates),
        "epochs": host_fit_rates,
        **host_mem,
    }
    phases["eval_bare"] = {"samples_per_s": _best(eval_bare)}

    fit = phases["lightning"]["samples_per_s"]
    ratios = {
        "lightning_over_bare": fit / phases["bare"]["samples_per_s"],
        "lightning_host_over_bare": (
            phases["lightning_host"]["samples_per_s"] / phases["bare"]["samples_per_s"]
        ),
        "data_host_over_train": phases["data_host"]["samples_per_s"] / fit,
        "data_on_device_over_train": phases["data_on_device"]["samples_per_s"] / fit,
        "cached_over_first": (
            phases["cached_epoch"]["clips_per_s"] / phases["first_pass"]["clips_per_s"]
        ),
        "eval_lightning_over_bare": (
            phases["eval_lightning"]["samples_per_s"] / phases["eval_bare"]["samples_per_s"]
        ),
    }
    compute = {
        "train_flops_per_sample": flops,
        "achieved_tflops_bare": flops * phases["bare"]["samples_per_s"] / 1e12,
        "achieved_tflops_lightning": flops * fit / 1e12,
    }
    if device.type == "cuda":
        peak = gpu_peak(torch.cuda.get_device_name(device))
        if peak:
            compute["peak_spec"] = {
                "name": f"{peak[0]} bf16 dense (data sheet)",
                "tflops": peak[1] / 1e12,
            }
            compute["fraction_of_peak_lightning"] = flops * fit / peak[1]
    met = {
        "lightning_over_bare": bool(
            ratios["lightning_over_bare"] >= TARGETS["lightning_over_bare"]
        ),
        "data_over_train": bool(
            min(ratios["data_host_over_train"], ratios["data_on_device_over_train"])
            >= TARGETS["data_over_train"]
        ),
        "cached_over_first": bool(ratios["cached_over_first"] >= TARGETS["cached_over_first"]),
    }
    ratios = {k: float(v) for k, v in ratios.items()}
    return {
        "phases": phases,
        "ratios": ratios,
        "compute": compute,
        "targets": TARGETS,
        "targets_met": met,
    }


ROWS = [
    ("first_pass", "first pass: decode + resample into the cache", "clips_per_s"),
    ("cached_epoch", "cached epoch: memmap cache through the DataLoader", "clips_per_s"),
    ("data_host", "(a) data path, host: memmap cache, DataLoader", "samples_per_s"),
    ("data_on_device", "(a) data path, on-device gather", "samples_per_s"),
    ("bare", "(b) bare PyTorch training loop", "samples_per_s"),
    ("lightning", "(c) Lightning fit, data.on_device=true", "samples_per_s"),
    ("lightning_host", "(c') Lightning fit, data.on_device=false", "samples_per_s"),
    ("eval_bare", "(d) evaluation, bare", "samples_per_s"),
    ("eval_lightning", "(d) evaluation, Lightning validate", "samples_per_s"),
]


def markdown(report: dict[str, Any]) -> str:
    p, r, c = report["phases"], report["ratios"], report["compute"]
    gpu = any("peak_gpu_mb" in v for v in p.values())
    head = "| measurement | rate | peak RSS (MB) |" + (" peak GPU (MB) |" if gpu else "")
    lines = [head, "|---|---:|---:|" + ("---:|" if gpu else "")]
    for key, label, unit in ROWS:
        v = p[key]
        row = (
            f"| {label} | {v[unit]:.2f} {unit.replace('_per_s', '/s')} | "
            f"{v.get('peak_rss_mb', '')} |"
        )
        lines.append(row + (f" {v.get('peak_gpu_mb', '')} |" if gpu else ""))
    lines += ["", "| ratio | value | target | met |", "|---|---:|---:|---|"]
    t, met = report["targets"], report["targets_met"]
    lines += [
        f"| (c)/(b) Lightning / bare | {r['lightning_over_bare']:.3f} | "
        f">= {t['lightning_over_bare']} | {'yes' if met['lightning_over_bare'] else 'no'} |",
        f"| (c')/(b) Lightning with the host loader / bare | {r['lightning_host_over_bare']:.3f} "
        "| | |",
        f"| (a)/(c) host data path / train step | {r['data_host_over_train']:.1f} | "
        f">= {t['data_over_train']} | {'yes' if r['data_host_over_train'] >= 10 else 'no'} |",
        f"| (a)/(c) on-device data path / train step | {r['data_on_device_over_train']:.1f} | "
        f">= {t['data_over_train']} | {'yes' if r['data_on_device_over_train'] >= 10 else 'no'} |",
        f"| cached epoch / first pass | {r['cached_over_first']:.1f} | "
        f">= {t['cached_over_first']} | {'yes' if met['cached_over_first'] else 'no'} |",
        f"| evaluation, Lightning / bare | {r['eval_lightning_over_bare']:.3f} | | |",
        "",
        f"Training FLOPs per sample (forward + backward, FlopCounterMode): "
        f"{c['train_flops_per_sample'] / 1e9:.3f} GFLOP; achieved {c['achieved_tflops_bare']:.4f}"
        f" TFLOP/s bare, {c['achieved_tflops_lightning']:.4f} TFLOP/s Lightning.",
    ]
    if "peak_spec" in c:
        lines.append(
            f"Peak: {c['peak_spec']['tflops']:.1f} TFLOP/s ({c['peak_spec']['name']}); "
            f"Lightning reaches {100 * c['fraction_of_peak_lightning']:.1f}% of it."
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m fpam_lightning.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="cpu",
        help="cpu: reduced, a few minutes on a CPU; paper: the paper's shape on a GPU",
    )
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--backbone")
    ap.add_argument("--attention", choices=["fpam", "psa", "pca", "none"])
    ap.add_argument("--channels", type=int, help="the attention head's channel count")
    ap.add_argument("--clip-seconds", type=float)
    ap.add_argument("--num-classes", type=int)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--eval-batch-size", type=int)
    ap.add_argument("--steps", type=int, help="training batches per epoch")
    ap.add_argument("--epochs", type=int, help="epochs per fit, the first one is warm-up")
    ap.add_argument("--rounds", type=int, help="alternate bare and Lightning this many times")
    ap.add_argument("--num-workers", type=int)
    ap.add_argument("--precision", choices=["32-true", "bf16-mixed"])
    ap.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
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


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    s = settings_from(args)
    if s["epochs"] < 2:
        raise SystemExit("error: --epochs must be at least 2 (the first one is warm-up)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tmp = None if args.work_dir else tempfile.mkdtemp(prefix="fpam_bench_")
    work = Path(args.work_dir or tmp)
    started, hw = time.time(), hardware(torch.device(s["device"]))
    try:
        results = run(s, work, log=lambda m: print(f"[bench] {m}", flush=True))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    device = torch.device(s["device"])
    report = {
        "command": "python -m fpam_lightning.bench "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": commit(),
        "hardware": hw,
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1),
        "load_average_at_end": list(os.getloadavg()),
        "settings": s,
        **results,
    }
    out = Path(args.out or f"experiments/results/bench_{device.type}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    header = (
        f"# Benchmark ({report['date_utc']} UTC)\n\n"
        f"- hardware: {json.dumps(report['hardware'])}\n"
        f"- command: `{report['command']}`\n- commit: {report['commit']}\n"
        f"- settings: {json.dumps(s)}\n- wall time: {report['duration_s']} s\n\n"
    )
    out.with_suffix(".md").write_text(header + table)
    print(table)
    print(f"[bench] wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return report


if __name__ == "__main__":
    main()
