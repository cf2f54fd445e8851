"""On a CPU, a run that will take hours says so after its first step, and names the CPU recipe;
`precision=auto` and `channels_last=auto` resolve for this machine and model."""

from __future__ import annotations

import json

from helpers import compose_train, run_cli

from fpam_lightning.training.build import resolve_channels_last, resolve_precision
from fpam_lightning.utils.cpu import cpu_has_fast_bf16


def test_a_long_cpu_run_says_so_in_one_line_and_is_not_changed(tmp_path, tiny_overrides):
    run = tmp_path / "run"
    proc = run_cli(
        "fpam_lightning.train",
        *tiny_overrides,
        "callbacks.extra.run_time.warn_hours=0",  # any run is "long"
        f"hydra.run.dir={run}",
    )
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "first training step" in ln]
    assert len(lines) == 1
    assert "1 epochs of" in lines[0] and "+experiment=esc50_pretrained_cpu" in lines[0]
    assert json.loads((run / "results.json").read_text())["epochs"] == 1  # still trained as asked


def test_a_short_run_says_nothing(tmp_path, tiny_overrides):
    proc = run_cli("fpam_lightning.train", *tiny_overrides, f"hydra.run.dir={tmp_path / 'r'}")
    assert "first training step" not in proc.stdout + proc.stderr


def test_auto_precision_and_memory_format_follow_the_cpu_and_the_backbone(tmp_path):
    fast = cpu_has_fast_bf16()
    cfg = compose_train(["trainer=cpu", "trainer.precision=auto", "channels_last=auto"], tmp_path)
    assert resolve_precision(cfg.trainer) == ("bf16-mixed" if fast else "32-true")
    assert resolve_channels_last(cfg) is fast  # a ResNet: channels_last where bf16 runs
    cfg = compose_train(["+experiment=esc50_pretrained_cpu"], tmp_path)
    assert resolve_channels_last(cfg) is False  # EfficientAT's depthwise convolutions: NCHW
    explicit = compose_train(["trainer.precision=32-true", "channels_last=true"], tmp_path)
    assert resolve_precision(explicit.trainer) == "32-true" and resolve_channels_last(explicit)
