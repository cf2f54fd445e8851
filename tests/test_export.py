"""export: the CLI writes a waveform-in, logits-out model that matches PyTorch within tolerance.

The tolerance is the command's default (conf/export.yaml): |exported - PyTorch| <= atol + rtol *
|PyTorch| with atol=1e-4, rtol=1e-3 on the logits. The tests check it again here, on an input the
exporter never saw (another seed, another batch size, a mix of noise and tones).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from analysis_run import trained_run
from helpers import run_cli

ATOL, RTOL = 1e-4, 1e-3


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, tiny_overrides) -> Path:
    return trained_run(tmp_path_factory, tiny_overrides) / "checkpoints" / "last.ckpt"


def fresh_input(n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1234)
    t = torch.arange(n) / 16000
    tones = torch.stack([0.3 * torch.sin(2 * torch.pi * f * t) for f in (220.0, 1500.0)])
    return torch.cat([0.05 * torch.randn(3, n, generator=g), tones])  # batch of 5


def reference(ckpt: Path, x: torch.Tensor) -> np.ndarray:
    from fpam_lightning.training.checkpoint import load_checkpoint

    with torch.no_grad():
        return load_checkpoint(ckpt).net(x).numpy()


def check_sidecar(model: Path, fmt: str) -> dict:
    info = json.loads(model.with_suffix(".json").read_text())
    assert info["format"] == fmt and info["class_names"] == [f"class_{i:02d}" for i in range(4)]
    assert info["input"]["shape"] == ["batch", 8000] and info["input"]["sample_rate"] == 16000
    check = info["check"]
    assert check["within_tolerance"] and check["max_abs_diff"] <= ATOL
    assert (check["atol"], check["rtol"]) == (ATOL, RTOL)
    return info


def test_torchscript_export_matches_pytorch(ckpt, tmp_path):
    out = tmp_path / "model.pt"
    proc = run_cli(
        "fpam_lightning.export", f"ckpt_path={ckpt}", "format=torchscript", f"output={out}"
    )
    assert proc.stdout.strip().splitlines()[-1] == str(out)
    check_sidecar(out, "torchscript")
    x = fresh_input(8000)
    scripted = torch.jit.load(str(out), map_location="cpu")
    with torch.no_grad():
        got = scripted(x).numpy()
    ref = reference(ckpt, x)
    assert got.shape == ref.shape == (5, 4)
    np.testing.assert_allclose(got, ref, atol=ATOL, rtol=RTOL)


def test_onnx_export_runs_in_onnxruntime(ckpt, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    out = tmp_path / "model.onnx"
    run_cli("fpam_lightning.export", f"ckpt_path={ckpt}", "format=onnx", f"output={out}")
    check_sidecar(out, "onnx")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == "waveform" and session.get_outputs()[0].name == "logits"
    x = fresh_input(8000)
    (got,) = session.run(None, {"waveform": x.numpy()})  # batch 5: the batch axis is dynamic
    ref = reference(ckpt, x)
    assert got.shape == ref.shape == (5, 4)
    np.testing.assert_allclose(got, ref, atol=ATOL, rtol=RTOL)


def test_export_default_path_and_bad_input(ckpt, tmp_path):
    from fpam_lightning.inference.model_export import default_output, export
    from fpam_lightning.utils.errors import ConfigError

    assert default_output(ckpt, "onnx") == ckpt.parent.parent / "export" / "last.onnx"
    proc = run_cli(
        "fpam_lightning.export",
        f"ckpt_path={tmp_path / 'nope.ckpt'}",
        "format=torchscript",
        check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: ckpt_path=" in proc.stderr and "is not a file" in proc.stderr
    with pytest.raises(ConfigError, match="choose onnx or torchscript"):
        export(str(ckpt), "tflite")
