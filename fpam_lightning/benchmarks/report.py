"""The report: ratios against the performance targets, FLOP rates, and the JSON and markdown.

Targets: (c)/(b) >= 0.95 (Lightning fit against the bare loop), (a)/(c) >= 10 (the data path
against the training step, for both loaders), cached epoch / first pass >= 20.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from .common import gpu_peak

TARGETS = {"lightning_over_bare": 0.95, "data_over_train": 10.0, "cached_over_first": 20.0}

# (phase, label, unit) of each row of the markdown table, in order.
ROWS = [
    ("first_pass", "first pass: decode + resample into the cache", "clips_per_s"),
    ("cached_epoch", "cached epoch: memmap cache through the DataLoader", "clips_per_s"),
    ("data_host", "(a) data path, host: memmap cache, DataLoader", "samples_per_s"),
    ("data_on_device", "(a) data path, on-device gather", "samples_per_s"),
    ("bare", "(b) bare PyTorch training loop", "samples_per_s"),
    ("lightning", "(c) Lightning fit, data.on_device=true", "samples_per_s"),
    ("lightning_host", "(c') Lightning fit, data.on_device=false", "samples_per_s"),
    ("eval_bare", "(d) evaluation, bare", "samples_per_s"),
    ("eval_lightning", "(d) evaluation, Lightning validate", "samples_per_s"),
]


def ratios_of(phases: dict[str, dict[str, Any]]) -> dict[str, float]:
    rate = {key: phases[key][unit] for key, _, unit in ROWS}
    fit = rate["lightning"]
    return {
        "lightning_over_bare": fit / rate["bare"],
        "lightning_host_over_bare": rate["lightning_host"] / rate["bare"],
        "data_host_over_train": rate["data_host"] / fit,
        "data_on_device_over_train": rate["data_on_device"] / fit,
        "cached_over_first": rate["cached_epoch"] / rate["first_pass"],
        "eval_lightning_over_bare": rate["eval_lightning"] / rate["eval_bare"],
    }


def targets_met(ratios: dict[str, float]) -> dict[str, bool]:
    data = min(ratios["data_host_over_train"], ratios["data_on_device_over_train"])
    return {
        "lightning_over_bare": bool(
            ratios["lightning_over_bare"] >= TARGETS["lightning_over_bare"]
        ),
        "data_over_train": bool(data >= TARGETS["data_over_train"]),
        "cached_over_first": bool(ratios["cached_over_first"] >= TARGETS["cached_over_first"]),
    }


def compute_of(phases: dict[str, dict[str, Any]], flops: int, device: torch.device) -> dict:
    """Achieved TFLOP/s from the FLOPs per training sample; on a known GPU, against its peak."""
    fit = phases["lightning"]["samples_per_s"]
    compute = {
        "train_flops_per_sample": flops,
        "achieved_tflops_bare": flops * phases["bare"]["samples_per_s"] / 1e12,
        "achieved_tflops_lightning": flops * fit / 1e12,
    }
    peak = gpu_peak(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    if peak:
        compute["peak_spec"] = {
            "name": f"{peak[0]} bf16 dense (data sheet)",
            "tflops": peak[1] / 1e12,
        }
        compute["fraction_of_peak_lightning"] = flops * fit / peak[1]
    return compute


def summarize(phases: dict[str, dict[str, Any]], flops: int, device: torch.device) -> dict:
    """The measured part of the report: phases, ratios, compute, targets and whether they're met."""
    ratios = ratios_of(phases)
    return {
        "phases": phases,
        "ratios": {k: float(v) for k, v in ratios.items()},
        "compute": compute_of(phases, flops, device),
        "targets": TARGETS,
        "targets_met": targets_met(ratios),
    }


def _yes(met: bool) -> str:
    return "yes" if met else "no"


def phase_table(phases: dict[str, dict[str, Any]]) -> list[str]:
    """One row per phase: rate, peak RSS, and peak GPU memory when measured on a GPU."""
    gpu = any("peak_gpu_mb" in v for v in phases.values())
    head = "| measurement | rate | peak RSS (MB) |" + (" peak GPU (MB) |" if gpu else "")
    lines = [head, "|---|---:|---:|" + ("---:|" if gpu else "")]
    for key, label, unit in ROWS:
        v = phases[key]
        row = (
            f"| {label} | {v[unit]:.2f} {unit.replace('_per_s', '/s')} | "
            f"{v.get('peak_rss_mb', '')} |"
        )
        lines.append(row + (f" {v.get('peak_gpu_mb', '')} |" if gpu else ""))
    return lines


def ratio_table(report: dict[str, Any]) -> list[str]:
    """Each ratio with its target and whether it is met."""
    r, t, met = report["ratios"], report["targets"], report["targets_met"]
    data = t["data_over_train"]
    return [
        "| ratio | value | target | met |",
        "|---|---:|---:|---|",
        f"| (c)/(b) Lightning / bare | {r['lightning_over_bare']:.3f} | "
        f">= {t['lightning_over_bare']} | {_yes(met['lightning_over_bare'])} |",
        f"| (c')/(b) Lightning with the host loader / bare | {r['lightning_host_over_bare']:.3f} "
        "| | |",
        f"| (a)/(c) host data path / train step | {r['data_host_over_train']:.1f} | "
        f">= {data} | {_yes(r['data_host_over_train'] >= data)} |",
        f"| (a)/(c) on-device data path / train step | {r['data_on_device_over_train']:.1f} | "
        f">= {data} | {_yes(r['data_on_device_over_train'] >= data)} |",
        f"| cached epoch / first pass | {r['cached_over_first']:.1f} | "
        f">= {t['cached_over_first']} | {_yes(met['cached_over_first'])} |",
        f"| evaluation, Lightning / bare | {r['eval_lightning_over_bare']:.3f} | | |",
    ]


def compute_lines(c: dict[str, Any]) -> list[str]:
    lines = [
        f"Training FLOPs per sample (forward + backward, FlopCounterMode): "
        f"{c['train_flops_per_sample'] / 1e9:.3f} GFLOP; achieved {c['achieved_tflops_bare']:.4f}"
        f" TFLOP/s bare, {c['achieved_tflops_lightning']:.4f} TFLOP/s Lightning."
    ]
    if "peak_spec" in c:
        lines.append(
            f"Peak: {c['peak_spec']['tflops']:.1f} TFLOP/s ({c['peak_spec']['name']}); "
            f"Lightning reaches {100 * c['fraction_of_peak_lightning']:.1f}% of it."
        )
    return lines


def markdown(report: dict[str, Any]) -> str:
    """The tables the command prints and writes: phases, ratios against targets, compute."""
    lines = [
        *phase_table(report["phases"]),
        "",
        *ratio_table(report),
        "",
        *compute_lines(report["compute"]),
    ]
    return "\n".join(lines) + "\n"


def header(report: dict[str, Any]) -> str:
    """The markdown file's heading: date, hardware, command, commit, settings, wall time."""
    return (
        f"# Benchmark ({report['date_utc']} UTC)\n\n"
        f"- hardware: {json.dumps(report['hardware'])}\n"
        f"- command: `{report['command']}`\n- commit: {report['commit']}\n"
        f"- settings: {json.dumps(report['settings'])}\n- wall time: {report['duration_s']} s\n\n"
    )


def write(report: dict[str, Any], out: Path) -> str:
    """`out`.json (the whole report) and `out`.md (heading and tables); returns the tables."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    out.with_suffix(".md").write_text(header(report) + table)
    return table
