"""The bench's shared parts: settings from presets and flags, the run's configs, GPU peaks."""

from __future__ import annotations

import pytest
import torch

from fpam_lightning.bench import parse_args
from fpam_lightning.benchmarks.common import PRESETS, Context, gpu_peak, settings_from
from fpam_lightning.utils.errors import ConfigError


def test_gpu_peak_is_the_labelled_spec_value():
    assert gpu_peak("NVIDIA H100 80GB HBM3") == ("H100", 989.4e12)
    assert gpu_peak("NVIDIA H100 PCIe") == ("H100 PCIe", 756.0e12)
    assert gpu_peak("Tesla T4") is None


def test_settings_are_the_preset_with_the_flags_given():
    s = settings_from(parse_args(["--batch-size", "4", "--steps", "5", "--no-channels-last"]))
    assert s == {
        **PRESETS["cpu"],
        "batch_size": 4,
        "steps": 5,
        "channels_last": False,
        "clips_per_class_per_fold": 2,  # 20 training clips, 4 training folds, 10 classes; >= 2
    }
    assert settings_from(parse_args(["--steps", "100"]))["clips_per_class_per_fold"] == 20


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--epochs", "1"], "--epochs must be at least 2"),
        (["--rounds", "0"], "--rounds must be at least 1"),
    ],
)
def test_settings_refuse_what_cannot_be_timed(flags, message):
    with pytest.raises(ConfigError, match=message):
        settings_from(parse_args(flags))


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")
def test_settings_refuse_cuda_without_a_gpu():
    with pytest.raises(ConfigError, match="no GPU is visible"):
        settings_from(parse_args(["--device", "cuda"]))
    assert settings_from(parse_args(["--device", "auto"]))["device"] == "cpu"


def test_context_composes_the_training_config_for_each_run(tmp_path):
    s = settings_from(parse_args(["--backbone", "tutorial_cnn", "--num-classes", "3"]))
    ctx = Context(s, tmp_path, log=lambda m: None)
    cfg = ctx.cfg(on_device=True, tag="fit0")
    assert cfg.data.root == str(tmp_path / "synthetic-esc50") == str(ctx.root)
    assert cfg.data.cache_dir == str(tmp_path / "cache")
    assert cfg.paths.output_dir == str(tmp_path / "fit0")
    assert cfg.data.on_device is True and ctx.cfg(False, "x").data.on_device is False
    assert (cfg.data.num_classes, cfg.backbone.name) == (3, "tutorial_cnn")
    assert cfg.logger.wandb is None and cfg.logger.csv is False
    assert cfg.trainer.max_epochs == s["epochs"]
    assert cfg.trainer.limit_train_batches == s["steps"]
