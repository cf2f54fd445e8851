"""(a) The data path alone: one training epoch of batches onto the device, no model.

Two paths: the host loader (the memory-mapped cache through the DataLoader, each batch copied to
the device) and the on-device gather (`data.on_device=true`: the cache on the device, batches
indexed there). The target: data path / Lightning training step >= 10.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from lightning.pytorch import Trainer

from .common import Context, best, time_loader

if TYPE_CHECKING:
    from ..data.base import FoldDataModule


@dataclass
class DeviceClips:
    """The training clips with their targets, and the test clips, as tensors on the device."""

    waves: torch.Tensor
    targets: torch.Tensor
    test_waves: torch.Tensor


def measure(ctx: Context, dm: FoldDataModule) -> dict[str, dict[str, Any]]:
    """Phases `data_host` and `data_on_device` in samples/s; `dm` must be set up for fitting."""
    ctx.mem.reset()
    host = time_loader(dm.train_dataloader(), ctx.device, ctx.sync)
    phases = {"data_host": {"samples_per_s": best(host), **ctx.mem.read()}}

    ctx.mem.reset()  # the gather needs a trainer to name the device
    dm.on_device, dm.trainer = True, Trainer(accelerator=ctx.device.type, devices=1, logger=False)
    dev = time_loader(dm.train_dataloader(), ctx.device, ctx.sync)
    phases["data_on_device"] = {"samples_per_s": best(dev), **ctx.mem.read()}
    ctx.log(
        f"data path: host {phases['data_host']['samples_per_s']:.0f} samples/s, "
        f"on-device {phases['data_on_device']['samples_per_s']:.0f} samples/s"
    )
    return phases


def device_clips(dm: FoldDataModule, device: torch.device) -> DeviceClips:
    """The set-up data module's train and test clips on `device`, for the bare loop."""
    train = dm.indices["train"]
    return DeviceClips(
        waves=torch.from_numpy(np.asarray(dm.waves[train])).to(device),
        targets=torch.as_tensor(dm.table.targets[train]).to(device),
        test_waves=torch.from_numpy(np.asarray(dm.waves[dm.indices["test"]])).to(device),
    )
