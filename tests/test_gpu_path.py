"""The switches a GPU user turns on first, each run end to end through the real commands.

On a CPU: `trainer.precision=bf16-mixed` (CPU autocast), `compile=true` (inductor, slow),
`channels_last=true` and `data.on_device=true` (the CPU as the device), each with EMA, mixup
and test-time crops. Where a switch needs a GPU, the command says so in one line. The tests
marked `gpu` run the same switches on CUDA and are skipped without one (the device check runs
them: `make device-check`).

Tolerances: logits of the same weights through another path (ONNX, channels_last, compiled)
agree within |a - b| <= 1e-4 + 1e-3 |b|, the export check's default (conf/export.yaml).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import error_lines, run_cli, write_wav

from fpam_lightning.training.checkpoint import load_checkpoint

ATOL, RTOL = 1e-4, 1e-3
# EMA (a short average so that it moves in 4 steps), mixup and test-time crops (shifts).
RECIPE = ["ema.enabled=true", "ema.decay=0.5", "mixup=on", "eval.tta_crops=3"]
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def fresh_input(n: int = 8000) -> torch.Tensor:
    """Noise and tones the model never saw, batch of 4."""
    g = torch.Generator().manual_seed(7)
    t = torch.arange(n) / 16000
    tones = torch.stack([0.3 * torch.sin(2 * torch.pi * f * t) for f in (300.0, 2000.0)])
    return torch.cat([0.05 * torch.randn(2, n, generator=g), tones])


def logits_of(ckpt: Path, x: torch.Tensor) -> torch.Tensor:
    loaded = load_checkpoint(ckpt)
    with torch.no_grad():
        return loaded.net(x)


def metrics_rows(run: Path) -> list[dict]:
    with open(run / "csv" / "metrics.csv") as f:
        return list(csv.DictReader(f))


def results_of(run: Path) -> dict:
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "completed", results
    return results


# --- bf16-mixed --------------------------------------------------------------------------------
def test_bf16_run_scores_through_evaluate_predict_and_export(tiny_overrides, tmp_path):
    run = tmp_path / "bf16"
    proc = run_cli(
        "fpam_lightning.train",
        *tiny_overrides,
        *RECIPE,
        "trainer.precision=bf16-mixed",
        "logger=csv",
        f"hydra.run.dir={run}",
    )
    assert "Using bfloat16 Automatic Mixed Precision" in proc.stdout + proc.stderr
    results = results_of(run)
    assert 0.0 <= results["test_acc"] <= 1.0 and math.isfinite(results["test_loss"])
    assert results["scoring"] == "mean of 3 shifts" and results["ema_decay"] == 0.5
    losses = [float(r["train/loss_epoch"]) for r in metrics_rows(run) if r.get("train/loss_epoch")]
    assert losses and all(math.isfinite(v) for v in losses)
    ckpt = Path(results["ckpt_path"])

    # evaluate scores the checkpoint as the run did (3 shifts), in float32: the bf16 run's
    # held-out numbers within bf16's rounding.
    data = [o for o in tiny_overrides if o.startswith(("data", "paths"))]
    ev = tmp_path / "eval"
    run_cli("fpam_lightning.evaluate", f"ckpt_path={ckpt}", *data, f"hydra.run.dir={ev}")
    scored = json.loads((ev / "results.json").read_text())
    assert scored["scoring"] == "mean of 3 shifts" and scored["num_test"] == results["num_test"]
    assert scored["test_loss"] == pytest.approx(results["test_loss"], abs=0.05)

    # predict: a clip of the model's length is one window, scored as the float32 model scores it.
    clip = fresh_input()[3].numpy()
    wav = write_wav(tmp_path / "audio" / "tone.wav", clip, 16000, subtype="FLOAT")
    out_csv = tmp_path / "pred.csv"
    run_cli("fpam_lightning.predict", f"ckpt_path={ckpt}", str(wav), f"csv={out_csv}")
    with open(out_csv) as f:
        (row,) = list(csv.DictReader(f))
    names = load_checkpoint(ckpt).class_names
    probs = np.array([float(row[f"prob_{n}"]) for n in names])
    expected = logits_of(ckpt, torch.from_numpy(clip)[None]).softmax(-1)[0].numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-5)

    # export: the ONNX model agrees with PyTorch in float32 on input it never saw.
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model = tmp_path / "model.onnx"
    run_cli("fpam_lightning.export", f"ckpt_path={ckpt}", "format=onnx", f"output={model}")
    assert json.loads(model.with_suffix(".json").read_text())["check"]["within_tolerance"]
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    x = fresh_input()
    (got,) = session.run(None, {"waveform": x.numpy()})
    np.testing.assert_allclose(got, logits_of(ckpt, x).numpy(), atol=ATOL, rtol=RTOL)


# --- channels_last and the on-device data path ---------------------------------------------
def test_channels_last_and_on_device_data_give_the_default_paths_results(tiny_overrides, tmp_path):
    """One multirun of the four combinations, with augmentation, EMA, mixup and crops.

    The on-device path (the cache on the device, crop and augmentation there) must see the
    same batches and draws as the host loader: the trained weights are equal. channels_last
    computes the same convolutions in another memory order: the weights and logits agree
    within the tolerance.
    """
    sweep = tmp_path / "sweep"
    run_cli(
        "fpam_lightning.train",
        "-m",
        *tiny_overrides,
        *RECIPE,
        "data.cache_seconds=0.75",  # the random training crop draws from the RNG too
        "augment.time_shift=0.25",
        "augment.gain_db=6",
        "augment.freq_mask=4",
        "augment.background=0.5",
        "trainer.deterministic=true",
        "channels_last=false,true",
        "data.on_device=false,true",
        f"hydra.sweep.dir={sweep}",
    )
    runs = {}
    for job in sorted(p for p in sweep.iterdir() if (p / "results.json").exists()):
        overrides = (job / ".hydra" / "overrides.yaml").read_text().lower()
        key = ("channels_last=true" in overrides, "data.on_device=true" in overrides)
        runs[key] = results_of(job)
    assert len(runs) == 4
    x = fresh_input()
    states = {
        k: torch.load(r["ckpt_path"], weights_only=True)["state_dict"] for k, r in runs.items()
    }
    logits = {k: logits_of(Path(r["ckpt_path"]), x) for k, r in runs.items()}
    for layout in (False, True):
        host, device = runs[(layout, False)], runs[(layout, True)]
        for name, w in states[(layout, False)].items():
            assert torch.allclose(w.float(), states[(layout, True)][name].float(), atol=1e-6), name
        assert device["test_loss"] == pytest.approx(host["test_loss"], abs=1e-6)
        assert device["test_acc"] == host["test_acc"]
    for on_device in (False, True):
        default, last = runs[(False, on_device)], runs[(True, on_device)]
        torch.testing.assert_close(
            logits[(True, on_device)], logits[(False, on_device)], atol=ATOL, rtol=RTOL
        )
        assert last["test_loss"] == pytest.approx(default["test_loss"], abs=ATOL)
    # The channels_last run's own weights give the same logits in either layout.
    loaded = load_checkpoint(runs[(True, True)]["ckpt_path"])
    with torch.no_grad():
        plain = loaded.net(x)
        net = loaded.net.to(memory_format=torch.channels_last)
        spec = net.frontend(x).contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(net.classify(spec).logits, plain, atol=ATOL, rtol=RTOL)


# --- torch.compile ----------------------------------------------------------------------------
@pytest.mark.slow  # inductor compiles the ResNet18 + FPAM graphs on the CPU: about 2 minutes
def test_compiled_run_trains_and_matches_eager_on_its_weights(tiny_overrides, tmp_path):
    run = tmp_path / "compiled"
    run_cli(
        "fpam_lightning.train",
        *tiny_overrides,
        *RECIPE,
        "compile=true",
        "logger=csv",
        f"hydra.run.dir={run}",
    )
    results = results_of(run)
    losses = [float(r["train/loss_epoch"]) for r in metrics_rows(run) if r.get("train/loss_epoch")]
    assert losses and all(math.isfinite(v) for v in losses)
    # evaluate rebuilds the network eagerly from the checkpoint: the compiled run's held-out
    # numbers are the eager network's on the same weights.
    data = [o for o in tiny_overrides if o.startswith(("data", "paths"))]
    ev = tmp_path / "eval"
    run_cli(
        "fpam_lightning.evaluate", f"ckpt_path={results['ckpt_path']}", *data, f"hydra.run.dir={ev}"
    )
    scored = json.loads((ev / "results.json").read_text())
    assert scored["test_loss"] == pytest.approx(results["test_loss"], abs=ATOL)
    assert scored["test_acc"] == results["test_acc"]
    # And logit by logit: the compiled classifier against the eager one, same weights.
    loaded = load_checkpoint(results["ckpt_path"])
    x = fresh_input()
    with torch.no_grad():
        eager = loaded.net(x)
        compiled = torch.compile(loaded.net.classify)(loaded.net.frontend(x)).logits
    torch.testing.assert_close(compiled, eager, atol=ATOL, rtol=RTOL)


# --- what needs a GPU says so ------------------------------------------------------------------
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without GPU")
def test_gpu_trainer_without_a_gpu_is_one_line(tiny_overrides, tmp_path):
    proc = run_cli(
        "fpam_lightning.train",
        *[o for o in tiny_overrides if not o.startswith("trainer=")],
        "trainer=gpu",
        f"hydra.run.dir={tmp_path}",
        check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert "trainer.accelerator=gpu" in line and "needs a GPU" in line and "trainer=cpu" in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without GPU")
def test_predict_on_cuda_without_a_gpu_is_one_line(tmp_path):
    proc = run_cli(
        "fpam_lightning.predict",
        f"ckpt_path={tmp_path / 'any.ckpt'}",
        "device=cuda",
        str(tmp_path / "clip.wav"),
        check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert error_lines(proc.stderr) == [
        "error: device=cuda needs a GPU, but torch sees none: use device=cpu"
    ]


# --- on a GPU (skipped without one; `make device-check` runs them) ------------------------------
def _gpu_overrides(tiny_overrides: list[str]) -> list[str]:
    return [*[o for o in tiny_overrides if not o.startswith("trainer=")], "trainer=gpu"]


@pytest.mark.parametrize(
    "switches",
    [
        ["trainer.precision=bf16-mixed", "channels_last=true", "data.on_device=true"],
        ["trainer.precision=bf16-mixed", "compile=true", "data.on_device=true"],
    ],
    ids=["bf16-channels_last-on_device", "bf16-compile-on_device"],
)
@pytest.mark.gpu
@needs_gpu
def test_gpu_switches_train_and_score_like_eager_float32(switches, tiny_overrides, tmp_path):
    run = tmp_path / "gpu"
    run_cli(
        "fpam_lightning.train",
        *_gpu_overrides(tiny_overrides),
        *RECIPE,
        *switches,
        "logger=csv",
        f"hydra.run.dir={run}",
    )
    results = results_of(run)
    assert math.isfinite(results["test_loss"]) and 0.0 <= results["test_acc"] <= 1.0
    data = [o for o in tiny_overrides if o.startswith(("data", "paths"))]
    ev = tmp_path / "eval"
    run_cli(
        "fpam_lightning.evaluate",
        f"ckpt_path={results['ckpt_path']}",
        *data,
        "device=cuda",
        f"hydra.run.dir={ev}",
    )
    scored = json.loads((ev / "results.json").read_text())
    assert scored["test_loss"] == pytest.approx(results["test_loss"], abs=0.05)  # bf16 rounding
