"""A training shuffle fixed by (seed, epoch), so a run resumed from a checkpoint sees the same
batches as one that never stopped.

torch's RandomSampler and DataLoader draw their seeds from the global RNG when an iterator is
made; Lightning makes the first epoch's iterator before `on_train_epoch_start` (where the module
reseeds), so after a resume the order, and every augmentation draw after it, would differ. This
sampler has its own generator, reset by Lightning's `set_epoch` before each epoch's first batch.
As a RandomSampler, it is still replaced by Lightning's seeded DistributedSampler under DDP.
"""

from __future__ import annotations

from collections.abc import Sized

import torch
from torch.utils.data import RandomSampler


def shuffle_seed(seed: int, epoch: int) -> int:
    return (int(seed) * 1_000_003 + int(epoch) * 104_729 + 17) % (2**31 - 1)


class EpochShuffle(RandomSampler):
    """A random permutation per epoch that depends on (seed, epoch) only."""

    def __init__(self, data_source: Sized, seed: int, epoch: int = 0):
        super().__init__(data_source)
        self.seed = int(seed)
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self.generator = torch.Generator().manual_seed(shuffle_seed(self.seed, self.epoch))


def loader_generator(seed: int) -> torch.Generator:
    """For DataLoader(generator=...): worker seeds that leave the global RNG alone."""
    return torch.Generator().manual_seed(shuffle_seed(seed, -1))
