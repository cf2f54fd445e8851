"""What every fold-based audio data set shares: the clip table, the folds, the cache, the loaders.

A subclass only says where its metadata lives and how to read it (`read_table`) and how to obtain
the data when it is absent (`obtain`). Everything after that (validation of bad files, the
waveform cache, the held-out fold, the validation split, the loaders) is the same code.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Sampler

from ..utils.errors import DataError
from ..utils.schema import BAD_FILE_MODES, VAL_MODES, choices, count, is_number, positive_int
from . import cache as wave_cache
from . import checks
from . import device as device_data
from .download import fetch_dataset
from .prepare import build_lock
from .samplers import EpochShuffle, loader_generator
from .tables import ClipTable, fingerprint

log = logging.getLogger(__name__)


def _defaults(fn) -> dict:
    return {
        p.name: p.default
        for p in inspect.signature(fn).parameters.values()
        if p.default is not p.empty
    }


def unrepeated_sampler(dataset: Dataset) -> Sampler | None:
    """Under DDP, each held-out clip on exactly one rank: Lightning's default DistributedSampler
    pads the ranks with repeated clips, which would count them twice in test accuracy."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return None
    if torch.distributed.get_world_size() == 1:
        return None
    from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler

    return UnrepeatedDistributedSampler(dataset, shuffle=False)


class WaveformDataset(Dataset):
    """Fixed-length waveforms from the (memory-mapped) cache; returns (wave, target, index).

    `__getitems__` reads a whole batch with one fancy index into the memmap: one copy into the
    batch tensor, where reading clip by clip and stacking copies every clip twice (2-3x slower
    on the 2-core sandbox). The collate (`keep_batch`) then passes the batch through.
    """

    def __init__(self, waves: np.ndarray, targets: np.ndarray, indices: np.ndarray):
        self.waves, self.targets = waves, np.asarray(targets, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitems__(self, positions: list[int]):
        j = self.indices[np.asarray(positions, dtype=np.int64)]
        wave = np.ascontiguousarray(self.waves[j], dtype=np.float32)
        return torch.from_numpy(wave), torch.from_numpy(self.targets[j]), torch.from_numpy(j)

    def __getitem__(self, i: int):
        j = int(self.indices[i])
        return torch.from_numpy(np.array(self.waves[j], dtype=np.float32)), int(self.targets[j]), j


def stratified_split(
    targets: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split positions 0..n-1 into (train, val), taking `fraction` of every class, seeded."""
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(targets):
        idx = np.flatnonzero(targets == c)
        rng.shuffle(idx)
        val.extend(idx[: max(1, round(fraction * len(idx)))] if fraction > 0 else [])
    val = np.sort(np.asarray(val, dtype=np.int64))
    train = np.setdiff1d(np.arange(len(targets)), val)
    return train, val


class FoldDataModule(LightningDataModule):
    """A data set with predefined folds: one fold is held out for testing, the rest train."""

    name: str = "dataset"
    num_folds: int = 5

    def __init__(
        self,
        root: str,
        fold: int = 1,
        num_classes: int | None = None,
        sample_rate: int = 16000,
        clip_seconds: float = 5.0,
        cache_seconds: float | None = None,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 4,
        val: str = "test_fold",
        val_fraction: float = 0.1,
        seed: int = 0,
        download: bool = False,
        url: str | None = None,
        sha256: str | None = None,
        on_bad_file: str = "error",
        cache_dir: str | None = None,
        pin_memory: bool = True,
        persistent_workers: bool = True,
        on_device: bool | None = None,
    ):
        problems = FoldDataModule.problems(**{k: v for k, v in locals().items() if k != "self"})
        if problems:
            raise DataError("; ".join(problems))
        super().__init__()
        self.root = Path(root).expanduser().absolute()
        self.fold = int(fold)
        self.expected_classes = num_classes
        self.sample_rate = int(sample_rate)
        # The network sees clip_samples; the cache may hold longer clips (cache_seconds), which
        # the LightningModule crops: at random in training, at the centre in evaluation.
        self.clip_seconds = clip_seconds  # as configured, for messages
        self.clip_samples = int(round(clip_seconds * sample_rate))
        self.cache_samples = (
            int(round(cache_seconds * sample_rate)) if cache_seconds else self.clip_samples
        )
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size or batch_size)
        self.num_workers = int(num_workers)
        self.val_mode = val
        self.val_fraction = float(val_fraction)
        self.seed = int(seed)
        self.download = bool(download)
        self.url, self.sha256 = url, sha256
        self.on_bad_file = on_bad_file
        self.cache_dir = Path(cache_dir).expanduser().absolute() if cache_dir else None
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers
        self.on_device = on_device  # null: on a GPU when the cache fits (data/device.py)
        self._device_data: tuple | None = None
        self._check_settings()
        self.table: ClipTable | None = None
        self.skipped: list[str] = []
        self._loaded: tuple[ClipTable, wave_cache.CachedWaves] | None = None

    # --- what a subclass provides -------------------------------------------------------------
    @property
    def audio_dir(self) -> Path:
        return self.root / "audio"

    @property
    def csv_path(self) -> Path:
        raise NotImplementedError

    def read_table(self) -> ClipTable:
        raise NotImplementedError

    def synthesize(self) -> None:
        """Write a synthetic copy in the official layout under `root` (data=synthetic)."""
        raise DataError(f"{self.name} has no synthetic generator")

    def obtain(self) -> None:
        """Make the data set exist under `root` (generate or download it), or say how to."""
        if getattr(self, "synthetic", None) is not None:
            self.synthesize()
        elif self.download and self.url:
            try:
                fetch_dataset(
                    self.url,
                    self.sha256,
                    self.root.parent / "downloads",
                    self.root,
                    marker=str(self.csv_path.relative_to(self.root)),
                )
            except DataError as e:
                raise DataError(f"{self._missing_message()} Download failed: {e}") from e
        else:
            raise DataError(self._missing_message())

    # --- shared machinery ---------------------------------------------------------------------
    def _check_settings(self) -> None:
        if not 1 <= self.fold <= self.num_folds:
            raise DataError(
                f"data.fold={self.fold} is out of range for {self.name}: choose 1..{self.num_folds}"
            )

    @staticmethod
    def problems(**keys) -> list[str]:
        """The settings' ranges, one clause each: checked with the whole config before anything
        is built (training/config_checks), and again by a module made in code. A key not given
        takes __init__'s default."""
        k = {**_defaults(FoldDataModule.__init__), **keys}
        val, frac, clip, cached = k["val"], k["val_fraction"], k["clip_seconds"], k["cache_seconds"]
        out = positive_int("data.batch_size", k["batch_size"])
        out += positive_int("data.eval_batch_size", k["eval_batch_size"], allow_none=True)
        out += count("data.num_workers", k["num_workers"])
        if val not in VAL_MODES:
            out.append(f"data.val={val!r}: choose one of {choices(VAL_MODES)}")
        if k["on_bad_file"] not in BAD_FILE_MODES:
            bad = k["on_bad_file"]
            out.append(f"data.on_bad_file={bad!r}: choose one of {choices(BAD_FILE_MODES)}")
        if val == "split" and not (is_number(frac) and 0 < frac < 1):
            out.append(f"data.val_fraction={frac!r} must be between 0 and 1 with data.val=split")
        if not (is_number(clip) and clip > 0):
            out.append(f"data.clip_seconds={clip!r} must be a positive number of seconds")
        elif cached is not None and not (is_number(cached) and cached >= clip):
            out.append(
                f"data.cache_seconds={cached!r} must be null or at least data.clip_seconds={clip}"
            )
        return out

    def _missing_message(self) -> str:
        return (
            f"{self.name} not found: looked for {self.csv_path} under data.root={self.root}. "
            + (f"Tried to download {self.url}. " if self.download and self.url else "")
            + f"Place an existing copy there, or point at one with data.root=/path/to/{self.name}"
            + ("" if self.download else ", or set data.download=true to fetch it")
            + "."
        )

    @property
    def num_classes(self) -> int:
        if self.table is not None:
            return len(self.table.class_names)
        return int(self.expected_classes)

    @property
    def class_names(self) -> list[str]:
        assert self.table is not None, "call setup() first"
        return self.table.class_names

    def _cache_dir(self) -> Path:
        return self.cache_dir or self.root / ".fpam_cache"

    def prepare_data(self) -> None:
        """Obtain the data if absent, then validate it and build the waveform cache (once)."""
        if not self.csv_path.exists():
            with build_lock(self.root):  # the sweep's other jobs wait, then reuse it
                if not self.csv_path.exists():
                    self.obtain()
            if not self.csv_path.exists():
                raise DataError(self._missing_message())
        self._load()

    def _load(self) -> tuple[ClipTable, wave_cache.CachedWaves]:
        """Read, check and cache once per process: Lightning calls prepare_data and setup
        several times, and each call would repeat every warning."""
        if self._loaded is not None:
            return self._loaded
        table = self.read_table()
        if self.expected_classes is not None and len(table.class_names) != self.expected_classes:
            raise DataError(
                f"{table.csv_path} defines {len(table.class_names)} classes but the config expects "
                f"data.num_classes={self.expected_classes}"
            )
        missing = [i for i, f in enumerate(table.files) if not (self.audio_dir / f).is_file()]
        bad: dict[int, str] = {i: "file not found" for i in missing}
        cached = (
            wave_cache.build_or_load(
                self.name,
                table.files,
                self.audio_dir,
                self._cache_dir(),
                self.sample_rate,
                self.cache_samples,
            )
            if not missing or self.on_bad_file == "skip"
            else None
        )
        if cached is not None:
            bad.update(cached.bad)
        checks.report_bad_files(table, bad, self.on_bad_file, self.audio_dir)
        checks.check_folds_usable(table, bad, self.fold, self.name, self.num_folds)
        self.skipped = [table.describe(i) for i in sorted(bad)]
        self._bad = set(bad)
        self._loaded = (table, cached)
        return self._loaded

    def setup(self, stage: str | None = None) -> None:
        if self.table is not None:
            return
        if not self.csv_path.exists():
            raise DataError(self._missing_message())
        table, cached = self._load()
        self.table, self.waves = table, cached.waves
        keep = np.array([i not in self._bad for i in range(len(table))], dtype=bool)
        test = np.flatnonzero((table.folds == self.fold) & keep)
        train = np.flatnonzero((table.folds != self.fold) & keep)
        if self.val_mode == "test_fold":
            val = test
        elif self.val_mode == "split":
            tr, va = stratified_split(table.targets[train], self.val_fraction, self.seed)
            train, val = train[tr], train[va]
        else:
            val = np.array([], dtype=np.int64)
        self.indices = {"train": train, "val": val, "test": test}
        info = {"name": self.name, "fold": self.fold, "val_mode": self.val_mode}
        checks.log_statistics(table, keep, self.indices, info)

    def fingerprint(self) -> dict[str, object]:
        """The rows this run's data set used (after any skipped file): `tables.fingerprint`."""
        assert self.table is not None, "call setup() first"
        keep = np.array([i not in self._bad for i in range(len(self.table))], dtype=bool)
        return fingerprint(self.table, keep)

    def dataset(self, split: str) -> WaveformDataset:
        return WaveformDataset(self.waves, self.table.targets, self.indices[split])

    def clips(self, split: str) -> Iterator[torch.Tensor]:
        """The split's waveforms in order, a batch at a time, in this process: no sampler and
        no DDP shard, for statistics that must see the whole split (per-mel normalisation)."""
        data, step = self.dataset(split), self.eval_batch_size
        for start in range(0, len(data), step):
            yield data.__getitems__(list(range(start, min(start + step, len(data)))))[0]

    def device_dataset(self, split: str) -> device_data.DeviceWaveforms | None:
        """The split on the trainer's device when `on_device` resolves true, else None."""
        device = device_data.device_of(self)
        if self._device_data is None or self._device_data[0] != device:
            if not device_data.want_on_device(self.on_device, device, self.waves.nbytes):
                return None
            self._device_data = (
                device,
                *device_data.to_device(self.waves, self.table.targets, device),
            )
        return device_data.DeviceWaveforms(*self._device_data[1:], self.indices[split])

    def loader(self, split: str, shuffle: bool) -> DataLoader:
        """The loader of a split (train, val, test or all), on the device or the host path."""
        on_device = self.device_dataset(split)
        workers = 0 if on_device is not None else self.num_workers
        dataset = on_device if on_device is not None else self.dataset(split)
        return DataLoader(
            dataset,
            batch_size=self.batch_size if split == "train" else self.eval_batch_size,
            # (seed, epoch) fixes the shuffle, so a resumed run repeats the uninterrupted one.
            sampler=EpochShuffle(dataset, self.seed)
            if shuffle
            else None
            if split == "train"
            else unrepeated_sampler(dataset),
            generator=loader_generator(self.seed),
            drop_last=shuffle and len(self.indices[split]) > self.batch_size,
            num_workers=workers,
            collate_fn=device_data.keep_batch,  # both datasets gather whole batches
            pin_memory=self.pin_memory and torch.cuda.is_available() and on_device is None,
            persistent_workers=self.persistent_workers and workers > 0,
            multiprocessing_context="fork" if workers > 0 and os.name == "posix" else None,
        )

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", shuffle=True)

    def val_dataloader(self):
        return self.loader("val", shuffle=False) if len(self.indices["val"]) else []

    def test_dataloader(self) -> DataLoader:
        return self.loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self.loader("test", shuffle=False)
