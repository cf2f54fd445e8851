"""The on-device data path: same batches as the host loader for a seed, shards under DDP."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import compose_train
from lightning.pytorch import Callback, seed_everything
from lightning.pytorch.utilities.data import _update_dataloader
from torch.utils.data import DistributedSampler

from fpam_lightning.benchmarks.lightning_fit import lightning_parts
from fpam_lightning.data.base import WaveformDataset
from fpam_lightning.data.device import DeviceWaveforms, want_on_device
from fpam_lightning.training.build import build_datamodule
from fpam_lightning.training.module import epoch_seed


class RecordBatches(Callback):
    """Keeps every training batch (waves, targets, clip indices) as the module received it."""

    def __init__(self):
        self.batches: list[tuple[torch.Tensor, ...]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.batches.append(tuple(t.detach().clone() for t in batch[:3]))


def _fit(overrides: list[str], tmp_path):
    cfg = compose_train(overrides, tmp_path)
    record = RecordBatches()
    trainer, module, dm = lightning_parts(cfg, [record])
    trainer.fit(module, datamodule=dm)
    test = trainer.test(module, datamodule=dm, verbose=False)[0]
    return record.batches, module, dm, test


def test_tiny_fit_trains_from_the_device_tensor(tiny_overrides, tmp_path):
    batches, module, dm, test = _fit([*tiny_overrides, "data.on_device=true"], tmp_path)
    assert isinstance(dm.train_dataloader().dataset, DeviceWaveforms)
    assert dm.train_dataloader().num_workers == 0
    assert len(batches) == len(dm.indices["train"]) // 8
    for wave, y, idx in batches:
        assert torch.equal(wave, torch.from_numpy(np.asarray(dm.waves[idx.numpy()])))
        assert torch.equal(y, torch.as_tensor(dm.table.targets[idx.numpy()]))
    assert 0.0 <= test["test/acc"] <= 1.0


@pytest.mark.slow
def test_on_device_fit_sees_the_loader_batches(tiny_overrides, tmp_path):
    # Two epochs: the per-epoch reseeding must shuffle both paths the same way each epoch.
    common = [
        *tiny_overrides,
        "trainer.max_epochs=2",
        "data.batch_size=4",
        "data.cache_seconds=0.75",
    ]  # longer cache: the random crop draws from the RNG too
    host, host_module, host_dm, host_test = _fit(
        [*common, "data.on_device=false"], tmp_path / "host"
    )
    dev, dev_module, dev_dm, dev_test = _fit([*common, "data.on_device=true"], tmp_path / "dev")
    assert isinstance(host_dm.train_dataloader().dataset, WaveformDataset)
    assert isinstance(dev_dm.train_dataloader().dataset, DeviceWaveforms)
    assert len(host) == len(dev) == 2 * (len(host_dm.indices["train"]) // 4)
    order = [b[2].tolist() for b in host]
    assert order[0] != sorted(order[0]) or order[1] != sorted(order[1])  # it did shuffle
    assert order[: len(order) // 2] != order[len(order) // 2 :]  # epochs differ
    for (hw, hy, hi), (dw, dy, di) in zip(host, dev, strict=True):
        assert torch.equal(hi, di) and torch.equal(hy, dy) and torch.equal(hw, dw)
        assert dy.dtype == hy.dtype == torch.int64
    # Same batches, same augmentation draws: the two runs trained the same weights.
    for (name, a), (_, b) in zip(
        host_module.state_dict().items(), dev_module.state_dict().items(), strict=True
    ):
        assert torch.allclose(a.float(), b.float(), atol=1e-5), name
    assert dev_test["test/acc"] == pytest.approx(host_test["test/acc"])


def test_loader_level_batches_match_for_train_and_eval(tiny_overrides, tmp_path):
    cfg = compose_train([*tiny_overrides, "data.batch_size=4", "data.eval_batch_size=3"], tmp_path)
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup("fit")
    assert isinstance(dm.waves, np.memmap)  # the host path reads the cache, never a copy

    def batches(on_device: bool, split: str, epoch: int):
        dm.on_device = on_device
        seed_everything(epoch_seed(0, epoch), verbose=False)  # as the module does each epoch
        loader = dm.train_dataloader() if split == "train" else dm.test_dataloader()
        if hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(epoch)  # as Lightning does before each epoch
        return list(loader)

    orders = []
    for split, epoch in (("train", 0), ("train", 1), ("test", 0)):
        host, dev = batches(False, split, epoch), batches(True, split, epoch)
        assert len(host) == len(dev) > 1
        for h, d in zip(host, dev, strict=True):
            assert all(torch.equal(a, b) for a, b in zip(h, d, strict=True))
        orders.append(torch.cat([b[2] for b in host]).tolist())
    assert orders[0] != orders[1] and sorted(orders[0]) == sorted(orders[1])  # reshuffled
    assert dev[0][0].shape[0] == 3  # the evaluation batch size


def test_auto_setting_is_off_on_cpu_and_explicit_settings_win():
    cpu = torch.device("cpu")
    assert want_on_device(None, cpu, 10) is False
    assert want_on_device(True, cpu, 10) is True
    assert want_on_device(False, torch.device("cuda", 0), 10) is False


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_auto_setting_is_on_for_a_gpu_when_the_data_fits():
    gpu = torch.device("cuda", 0)
    free, _ = torch.cuda.mem_get_info(gpu)
    assert want_on_device(None, gpu, 1 << 20) is True
    assert want_on_device(None, gpu, free) is False


def test_each_ddp_rank_gathers_its_own_shard(tiny_overrides, tmp_path):
    cfg = compose_train([*tiny_overrides, "data.batch_size=4", "data.on_device=true"], tmp_path)
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup("fit")
    loader = dm.train_dataloader()
    seen = []
    for rank in range(2):
        # What Lightning does under DDP: rebuild the loader around a DistributedSampler.
        sampler = DistributedSampler(loader.dataset, num_replicas=2, rank=rank, seed=0)
        shard = _update_dataloader(loader, sampler)
        assert isinstance(shard.dataset, DeviceWaveforms)
        idx = torch.cat([b[2] for b in shard]).tolist()
        wave = torch.cat([b[0] for b in shard])
        assert torch.equal(wave, torch.from_numpy(np.asarray(dm.waves[idx])))
        seen.append(set(idx))
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == set(dm.indices["train"].tolist())
