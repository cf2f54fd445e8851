"""checkpoint: loading a training checkpoint safely, and clear errors for anything else."""

from __future__ import annotations

import pytest
import torch
from analysis_run import trained_run

from fpam_lightning.training.checkpoint import CheckpointError, load_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, tiny_overrides):
    return trained_run(tmp_path_factory, tiny_overrides) / "checkpoints" / "last.ckpt"


def test_loads_module_names_and_settings(ckpt):
    loaded = load_checkpoint(ckpt)
    assert loaded.class_names == [f"class_{i:02d}" for i in range(4)]
    assert loaded.sample_rate == 16000 and loaded.clip_samples == 8000
    assert not loaded.module.training
    with torch.no_grad():
        assert loaded.net(torch.zeros(2, 8000)).shape == (2, 4)


def test_bad_checkpoints_give_clear_errors(ckpt, tmp_path):
    with pytest.raises(CheckpointError, match="is not a file"):
        load_checkpoint(tmp_path / "missing.ckpt")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_text("hello")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(garbage)
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hyper_parameters": {"lr": 1}}, other)
    with pytest.raises(CheckpointError, match="not written by fpam_lightning.train"):
        load_checkpoint(other)
    # Our format, but weights of a different network than its config says.
    raw = torch.load(ckpt, weights_only=True)
    raw["hyper_parameters"]["net"]["attention"]["channels"] = 48
    torch.save(raw, tmp_path / "mismatch.ckpt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(tmp_path / "mismatch.ckpt")
