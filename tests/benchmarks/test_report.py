"""The bench's report: ratios against the targets, compute, and the JSON and markdown written."""

from __future__ import annotations

import json

import pytest
import torch

from fpam_lightning.benchmarks.report import ROWS, TARGETS, markdown, summarize, write

RATES = {
    "first_pass": 10.0,
    "cached_epoch": 300.0,
    "data_host": 2000.0,
    "data_on_device": 500.0,
    "bare": 100.0,
    "lightning": 96.0,
    "lightning_host": 80.0,
    "eval_bare": 400.0,
    "eval_lightning": 360.0,
}


def phases(gpu: bool = False) -> dict:
    memory = {"peak_rss_mb": 1000.0, **({"peak_gpu_mb": 50.0} if gpu else {})}
    return {key: {unit: RATES[key], **memory} for key, _, unit in ROWS}


def test_ratios_and_targets_follow_the_phases():
    out = summarize(phases(), flops=2 * 10**9, device=torch.device("cpu"))
    r = out["ratios"]
    assert r["lightning_over_bare"] == pytest.approx(0.96)
    assert r["lightning_host_over_bare"] == pytest.approx(0.8)
    assert r["data_host_over_train"] == pytest.approx(2000 / 96)
    assert r["data_on_device_over_train"] == pytest.approx(500 / 96)
    assert r["cached_over_first"] == pytest.approx(30.0)
    assert r["eval_lightning_over_bare"] == pytest.approx(0.9)
    # The on-device data path is under 10x the training step: that target is missed.
    assert out["targets_met"] == {
        "lightning_over_bare": True,
        "data_over_train": False,
        "cached_over_first": True,
    }
    assert out["targets"] == TARGETS
    assert out["compute"] == {
        "train_flops_per_sample": 2 * 10**9,
        "achieved_tflops_bare": pytest.approx(0.2),
        "achieved_tflops_lightning": pytest.approx(0.192),
    }


def test_markdown_has_a_row_per_phase_and_each_ratio_against_its_target():
    table = markdown(summarize(phases(), flops=2 * 10**9, device=torch.device("cpu")))
    for _, label, _ in ROWS:
        assert f"| {label} | " in table
    assert "| (b) bare PyTorch training loop | 100.00 samples/s | 1000.0 |" in table
    assert "| first pass: decode + resample into the cache | 10.00 clips/s | 1000.0 |" in table
    assert "| (c)/(b) Lightning / bare | 0.960 | >= 0.95 | yes |" in table
    assert "| (a)/(c) host data path / train step | 20.8 | >= 10.0 | yes |" in table
    assert "| (a)/(c) on-device data path / train step | 5.2 | >= 10.0 | no |" in table
    assert "| cached epoch / first pass | 30.0 | >= 20.0 | yes |" in table
    assert "peak GPU" not in table and "Peak:" not in table
    assert "2.000 GFLOP; achieved 0.2000 TFLOP/s bare, 0.1920 TFLOP/s Lightning." in table
    gpu_table = markdown(summarize(phases(gpu=True), flops=1, device=torch.device("cpu")))
    assert "| peak GPU (MB) |" in gpu_table and "| 1000.0 | 50.0 |" in gpu_table


def test_write_puts_the_report_in_json_and_the_tables_under_a_heading(tmp_path):
    report = {
        "command": "python -m fpam_lightning.bench --steps 2",
        "commit": "abc1234",
        "hardware": {"cpu": "test"},
        "date_utc": "2026-01-01 00:00:00",
        "duration_s": 1.5,
        "settings": {"steps": 2},
        **summarize(phases(), flops=1, device=torch.device("cpu")),
    }
    out = tmp_path / "results" / "bench_cpu"
    table = write(report, out)
    assert table == markdown(report)
    assert json.loads(out.with_suffix(".json").read_text()) == json.loads(json.dumps(report))
    md = out.with_suffix(".md").read_text()
    assert md.startswith('# Benchmark (2026-01-01 00:00:00 UTC)\n\n- hardware: {"cpu": "test"}')
    assert "- command: `python -m fpam_lightning.bench --steps 2`\n- commit: abc1234\n" in md
    assert '- settings: {"steps": 2}\n- wall time: 1.5 s\n\n' in md
    assert md.endswith(table)
