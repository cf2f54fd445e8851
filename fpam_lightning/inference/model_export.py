"""A checkpoint as a waveform-in, logits-out ONNX or TorchScript model (`export`'s work).

The exported graph includes the log-mel front end, so it takes raw mono audio at the model's
sample rate, shaped (batch, clip_samples) float32, and returns (batch, num_classes) logits; the
batch size is dynamic. After writing, the file is loaded back (ONNX Runtime for ONNX, when it is
installed: `pip install fpam_lightning[export]`) and its logits are compared with the PyTorch
model's on the same random and silent inputs within `atol + rtol * |logit|`. A JSON file beside
the model records the sample rate, clip length, class names and the measured difference.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..training.checkpoint import LoadedCheckpoint, load_checkpoint
from ..utils.errors import ConfigError, FpamError
from ..utils.io import write_json_atomic

log = logging.getLogger("fpam_lightning")
FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}


def default_output(ckpt: Path, fmt: str) -> Path:
    """<run>/export/model.<ext> for <run>/checkpoints/x.ckpt, else beside the checkpoint."""
    run = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
    return run / "export" / f"{ckpt.stem}{FORMATS[fmt]}"


def check_inputs(loaded: LoadedCheckpoint, seed: int = 0) -> list[torch.Tensor]:
    """Noise at two batch sizes and a silent clip: the cases an exporter gets wrong."""
    g = torch.Generator().manual_seed(seed)
    n = loaded.clip_samples
    return [
        0.1 * torch.randn(2, n, generator=g),
        0.1 * torch.randn(3, n, generator=g),
        torch.zeros(1, n),
    ]


def export_onnx(net: torch.nn.Module, example: torch.Tensor, path: Path, opset: int) -> None:
    """The dynamo exporter: it translates torch.stft, which the legacy TorchScript path cannot."""
    try:
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise FpamError(
            "ONNX export needs onnx and onnxscript: pip install 'fpam_lightning[export]'"
        ) from e
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(
        net,
        (example,),
        str(path),
        dynamo=True,
        opset_version=opset,
        input_names=["waveform"],
        output_names=["logits"],
        dynamic_shapes={"wave": {0: batch}},
        verbose=False,
    )


def run_onnx(path: Path) -> Any:
    """An ONNX Runtime session, or None when onnxruntime is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x.numpy()})[0]


def export_torchscript(net: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    traced = torch.jit.trace(net, (example,), check_trace=False)
    traced.save(str(path))


def run_torchscript(path: Path):
    loaded = torch.jit.load(str(path), map_location="cpu")
    return lambda x: loaded(x).detach().numpy()


def compare(
    runner, net: torch.nn.Module, inputs: list[torch.Tensor], atol: float, rtol: float
) -> dict[str, Any]:
    worst, ok = 0.0, True
    with torch.no_grad():
        for x in inputs:
            ref = net(x).numpy()
            got = np.asarray(runner(x))
            if got.shape != ref.shape:
                raise FpamError(f"exported model returned shape {got.shape}, PyTorch {ref.shape}")
            worst = max(worst, float(np.abs(got - ref).max()))
            ok &= bool(np.allclose(got, ref, atol=atol, rtol=rtol))
    return {
        "max_abs_diff": worst,
        "atol": atol,
        "rtol": rtol,
        "within_tolerance": ok,
        "checked_batches": [int(x.shape[0]) for x in inputs],
    }


def model_info(loaded: LoadedCheckpoint, fmt: str, path: Path) -> dict[str, Any]:
    """The sidecar JSON: how to feed the exported model and read its output."""
    return {
        "format": fmt,
        "path": str(path),
        "ckpt_path": str(loaded.path),
        "input": {
            "name": "waveform",
            "shape": ["batch", loaded.clip_samples],
            "dtype": "float32",
            "sample_rate": loaded.sample_rate,
            "channels": "mono",
        },
        "output": {"name": "logits", "shape": ["batch", len(loaded.class_names)]},
        "class_names": loaded.class_names,
        "check": None,
    }


def export(
    ckpt_path: str,
    fmt: str = "onnx",
    output: str | None = None,
    opset: int = 18,
    check: bool = True,
    atol: float = 1e-4,
    rtol: float = 1e-3,
) -> dict[str, Any]:
    """Write the model, check it against PyTorch, and return (and write) what was measured."""
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt!r}: choose onnx or torchscript")
    loaded = load_checkpoint(ckpt_path, "cpu")
    net = loaded.net.eval()
    path = Path(output) if output else default_output(loaded.path, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, loaded.clip_samples)
    if fmt == "onnx":
        export_onnx(net, example, path, opset)
    else:
        export_torchscript(net, example, path)
    info = model_info(loaded, fmt, path)
    if check:
        runner = run_onnx(path) if fmt == "onnx" else run_torchscript(path)
        if runner is None:
            log.warning("onnxruntime is not installed: the ONNX file was written but not run")
        else:
            info["check"] = compare(runner, net, check_inputs(loaded), atol, rtol)
            if not info["check"]["within_tolerance"]:
                write_json_atomic(path.with_suffix(".json"), info)
                raise FpamError(
                    f"{path}: exported logits differ from PyTorch by up to "
                    f"{info['check']['max_abs_diff']:.3g} (atol={atol}, rtol={rtol})"
                )
    write_json_atomic(path.with_suffix(".json"), info)
    diff = info["check"]["max_abs_diff"] if info["check"] else float("nan")
    log.info("exported %s -> %s (max |logit difference| vs PyTorch %.3g)", fmt, path, diff)
    return info
