"""The on-device data path: the cached waveforms live on the accelerator, batches are gathers.

ESC-50 at 16 kHz is 2000 x 80 000 float32 samples (640 MB), small next to a GPU's memory. Copied
there once, a batch is one index gather: no decoding, no host copies, no worker processes. The
batches still come from a `DataLoader` (no workers, an identity collate) built by the same
`FoldDataModule.loader`, so the sampler is the very one the host path uses: the same (seed,
epoch) shuffles both the same way, and Lightning still swaps in a `DistributedSampler` under DDP,
so each rank gathers only its shard of the indices (every rank holds the whole tensor).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch.utils.data import Dataset

log = logging.getLogger(__name__)

# `data.on_device=null` moves the data only when it takes less than this share of free memory.
AUTO_MAX_FRACTION = 0.5


def device_of(datamodule) -> torch.device:
    """The device the model trains on: the trainer's root device, or the CPU without a trainer."""
    trainer = getattr(datamodule, "trainer", None)
    strategy = getattr(trainer, "strategy", None) if trainer is not None else None
    return strategy.root_device if strategy is not None else torch.device("cpu")


def fits_on(device: torch.device, nbytes: int, fraction: float = AUTO_MAX_FRACTION) -> bool:
    """True on a CUDA device whose free memory holds `nbytes` within `fraction` of it."""
    if device.type != "cuda":
        return False
    free, _total = torch.cuda.mem_get_info(device)
    return nbytes < fraction * free


def want_on_device(setting: bool | None, device: torch.device, nbytes: int) -> bool:
    """Resolve `data.on_device`: true/false as given; null means on a GPU where the data fits."""
    if setting is not None:
        return bool(setting)
    return fits_on(device, nbytes)


def to_device(waves: np.ndarray, targets: np.ndarray, device: torch.device):
    """One (N, samples) float32 tensor and the (N,) int64 targets, on `device`."""
    w = torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32))
    if device.type == "cpu":
        w = w.clone()  # a private copy: the memmap stays read-only and may be closed
    return w.to(device), torch.as_tensor(np.asarray(targets, dtype=np.int64)).to(device)


class DeviceWaveforms(Dataset):
    """Positions of one split into device-resident waveforms; a batch is gathered in one call.

    `__getitems__` makes the DataLoader ask for a whole batch of positions at once, and
    `keep_batch` (the collate) passes the gathered tensors through unchanged: (wave, target,
    index), as the host path's `WaveformDataset.__getitems__` does from the memmap.
    """

    def __init__(self, waves: torch.Tensor, targets: torch.Tensor, indices: np.ndarray):
        self.waves, self.targets = waves, targets
        self.indices = torch.as_tensor(np.asarray(indices, dtype=np.int64), device=waves.device)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitems__(self, positions: list[int]):
        pos = torch.as_tensor(positions, dtype=torch.int64).to(self.waves.device, non_blocking=True)
        j = self.indices[pos]
        return self.waves.index_select(0, j), self.targets.index_select(0, j), j

    def __getitem__(self, i: int):
        j = self.indices[i]
        return self.waves[j], self.targets[j], j


def keep_batch(batch):
    """The collate of both paths: their datasets' `__getitems__` already gathered the batch."""
    return batch
