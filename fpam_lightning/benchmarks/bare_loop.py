"""(b) The bare PyTorch training loop: our network and SGD over in-memory tensors on the device.

No framework at all: the yardstick for (c), this project's Lightning fit (target: (c)/(b) >=
0.95). Each epoch is `steps` batches of a random permutation of the training clips.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any

import torch
import torch.nn.functional as F

from ..training.build import build_datamodule, build_module, module_hparams
from .common import Context


def autocast_for(precision: str, device: torch.device):
    if precision == "bf16-mixed":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision in ("32-true", "32", 32):
        return nullcontext()
    raise ValueError(f"--precision {precision!r}: the bench supports 32-true and bf16-mixed")


def sgd_args(cfg: dict) -> dict:
    """torch.optim.SGD's arguments from the `optim` config (the paper's optimiser)."""
    if cfg.get("_target_") != "torch.optim.SGD":
        raise ValueError("the bench times the paper's SGD: use optim=sgd")
    return dict(
        lr=cfg.get("lr", 0.01),
        momentum=cfg.get("momentum", 0.9),
        weight_decay=cfg.get("weight_decay", 0.0),
        nesterov=bool(cfg.get("nesterov")),
    )


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
        self.classify = module.classify  # compiled when the module compiles it
        self.opt = torch.optim.SGD(self.net.parameters(), **sgd_args(module.optim_cfg))
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
        """Samples/s of one training epoch of `steps` batches."""
        self.net.train()
        self.sync()
        t = time.perf_counter()
        perm = torch.randperm(len(self.waves), device=self.device)
        for b in range(steps):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            self.step(self.waves[idx], self.targets[idx])
        self.sync()
        return steps * batch_size / (time.perf_counter() - t)

    def train_flops_per_sample(self, batch_size: int) -> int:
        """Forward + backward FLOPs of one training step per sample (FlopCounterMode: convs and
        matmuls; the STFT and element-wise operations are not counted)."""
        from torch.utils.flop_counter import FlopCounterMode

        wave, y = self.waves[:batch_size], self.targets[:batch_size]
        self.net.train()
        with FlopCounterMode(display=False) as counter:
            self.step(wave, y, classify=self.net.classify)
        return int(counter.get_total_flops()) // batch_size


def build(ctx: Context, waves: torch.Tensor, targets: torch.Tensor, tag: str) -> BareLoop:
    """A bare loop over the network that training builds (seeded alike), config in work/tag."""
    torch.manual_seed(0)
    cfg = ctx.cfg(on_device=True, tag=tag)
    module = build_module(module_hparams(cfg), build_datamodule(cfg.data))
    s = ctx.settings
    return BareLoop(
        module, waves, targets, ctx.device, s["precision"], s["channels_last"], ctx.sync
    )


def measure(ctx: Context, loop: BareLoop) -> tuple[list[float], dict[str, Any]]:
    """Samples/s of each of `epochs` epochs (the first is warm-up), and the peak memory."""
    s = ctx.settings
    ctx.mem.reset()
    rates = [loop.epoch(s["batch_size"], s["steps"]) for _ in range(s["epochs"])]
    return rates, ctx.mem.read()
