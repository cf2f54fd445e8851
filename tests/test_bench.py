"""The benchmark command end to end, and each fast-path option in a real (tiny) fit on the CPU."""

from __future__ import annotations

import json
import math

import pytest
import torch
from helpers import compose_train
from lightning.pytorch import Callback

from fpam_lightning import bench
from fpam_lightning.benchmarks.lightning_fit import lightning_parts
from fpam_lightning.benchmarks.report import markdown

TINY_BENCH = [
    "--backbone",
    "tutorial_cnn",
    "--attention",
    "none",
    "--clip-seconds",
    "0.5",
    "--num-classes",
    "2",
    "--batch-size",
    "4",
    "--steps",
    "2",
    "--epochs",
    "2",
    "--eval-batch-size",
    "8",
    "--num-workers",
    "0",
    "--device",
    "cpu",
    "--rounds",
    "1",
]


def _reject(constant: str):
    raise AssertionError(f"{constant} in the report: not JSON")


def test_bench_measures_every_path_and_writes_json_and_markdown(tmp_path, capsys):
    out = tmp_path / "results" / "bench_tiny"
    argv = [*TINY_BENCH, "--work-dir", str(tmp_path / "work"), "--out", str(out)]
    assert bench.main(argv) == 0
    # Strict JSON: no NaN or Infinity anywhere in the report.
    on_disk = json.loads(out.with_suffix(".json").read_text(), parse_constant=_reject)
    p, r = on_disk["phases"], on_disk["ratios"]
    for key, unit in [
        ("first_pass", "clips_per_s"),
        ("cached_epoch", "clips_per_s"),
        ("data_host", "samples_per_s"),
        ("data_on_device", "samples_per_s"),
        ("bare", "samples_per_s"),
        ("lightning", "samples_per_s"),
        ("lightning_host", "samples_per_s"),
        ("eval_bare", "samples_per_s"),
        ("eval_lightning", "samples_per_s"),
    ]:
        assert math.isfinite(p[key][unit]) and p[key][unit] > 0, key
    # One warm-up epoch is left out of two: one timed epoch per fit.
    assert len(p["bare"]["epochs"]) == len(p["lightning"]["epochs"]) == 1
    assert p["lightning"]["peak_rss_mb"] > 0
    assert r["lightning_over_bare"] == pytest.approx(
        p["lightning"]["samples_per_s"] / p["bare"]["samples_per_s"]
    )
    assert r["cached_over_first"] == pytest.approx(
        p["cached_epoch"]["clips_per_s"] / p["first_pass"]["clips_per_s"]
    )
    assert on_disk["targets_met"]["cached_over_first"] == (r["cached_over_first"] >= 20)
    assert on_disk["compute"]["train_flops_per_sample"] > 0
    assert on_disk["settings"]["backbone"] == "tutorial_cnn" and on_disk["commit"]
    assert on_disk["hardware"]["cpu_count"] >= 1
    assert on_disk["command"] == "python -m fpam_lightning.bench " + " ".join(argv)
    table = out.with_suffix(".md").read_text()
    assert "(c)/(b) Lightning / bare" in table and on_disk["command"] in table
    # The tables written and printed are those of the report on disk.
    assert table.endswith(markdown(on_disk))
    assert markdown(on_disk) in capsys.readouterr().out


def test_bench_refuses_a_single_epoch(tmp_path, capsys):
    assert bench.main([*TINY_BENCH, "--epochs", "1", "--work-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == "error: --epochs must be at least 2 (the first one is warm-up)\n"
    assert not any(tmp_path.iterdir())  # refused before writing anything


class Probe(Callback):
    """Records what the fast paths change: the first conv's input layout and output dtype, the
    losses, and the evaluation batch sizes."""

    def __init__(self):
        self.layouts, self.dtypes, self.losses, self.eval_sizes = [], [], [], []

    def on_fit_start(self, trainer, pl_module):
        conv = next(
            m
            for m in pl_module.net.backbone.modules()  # 1 channel: either layout
            if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1
        )

        def hook(mod, args, out):
            self.layouts.append(args[0].is_contiguous(memory_format=torch.channels_last))
            self.dtypes.append(out.dtype)

        conv.register_forward_hook(hook)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append(float(outputs["loss"]))

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        self.eval_sizes.append(int(batch[0].shape[0]))


def _fit(overrides, tmp_path):
    cfg = compose_train(overrides, tmp_path)
    probe = Probe()
    trainer, module, dm = lightning_parts(cfg, [probe])
    trainer.fit(module, datamodule=dm)
    test = trainer.test(module, datamodule=dm, verbose=False)[0]
    assert probe.losses and all(math.isfinite(x) for x in probe.losses)
    assert 0.0 <= test["test/acc"] <= 1.0
    return probe, module


FAST = ["data.batch_size=4", "+trainer.limit_train_batches=2"]


@pytest.fixture
def keep_cudnn_flag():
    flag = torch.backends.cudnn.benchmark
    yield
    torch.backends.cudnn.benchmark = flag


@pytest.mark.parametrize("option", ["channels_last", "bf16", "eval_batch", "cudnn_benchmark"])
def test_fast_path_option_runs_on_cpu(option, tiny_overrides, tmp_path, keep_cudnn_flag):
    extra = {
        "channels_last": ["channels_last=true"],
        "bf16": ["trainer.precision=bf16-mixed"],
        "eval_batch": ["data.eval_batch_size=8"],
        "cudnn_benchmark": ["trainer.benchmark=true"],
    }[option]
    probe, module = _fit([*tiny_overrides, *FAST, *extra], tmp_path)
    conv_weight = next(
        m.weight
        for m in module.net.backbone.modules()
        if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1
    )
    if option == "channels_last":
        assert all(probe.layouts)
        assert conv_weight.is_contiguous(memory_format=torch.channels_last)
    else:
        assert not any(probe.layouts)
    assert all(
        d == (torch.bfloat16 if option == "bf16" else torch.float32) for d in probe.dtypes
    ), sorted({str(d) for d in probe.dtypes})
    assert probe.eval_sizes[0] == (8 if option == "eval_batch" else 4)
    if option == "cudnn_benchmark":
        assert torch.backends.cudnn.benchmark is True


@pytest.mark.slow
def test_compile_option_trains_on_cpu(tiny_overrides, tmp_path):
    from torch._dynamo.utils import counters

    before = counters["stats"]["unique_graphs"]
    probe, module = _fit([*tiny_overrides, *FAST, "compile=true"], tmp_path)
    assert counters["stats"]["unique_graphs"] > before
    assert module.classify is not module.net.classify
