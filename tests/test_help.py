"""Every command and console script answers -h / --help with its own usage, without torch.

Each runs as a user runs it (a subprocess) under `python -X importtime`, whose trace lists
every module the process imported: `torch` must not be among them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from helpers import REPO

# command -> what its help must say: usage, what it needs, a setting with its default, an example
EXPECTED = {
    "train": [
        "usage: python -m fpam_lightning.train",
        "+experiment=NAME",
        "data=esc50",
        "attention=fpam",
        "Example:",
        "python -m fpam_lightning.train +experiment=quickstart",
    ],
    "evaluate": [
        "usage: python -m fpam_lightning.evaluate ckpt_path=CKPT",
        "Needs ckpt_path=CKPT",
        "device=auto",
        "Example:",
        "python -m fpam_lightning.evaluate ckpt_path=",
    ],
    "export": [
        "usage: python -m fpam_lightning.export ckpt_path=CKPT",
        "Needs ckpt_path=CKPT",
        "format=onnx",
        "opset=18",
        "Example:",
    ],
    "predict": [
        "usage: python -m fpam_lightning.predict",
        "ckpt_path=PATH     the checkpoint (required)",
        "top_k=3",
        "KEY=VALUE|FILE_OR_DIR",
        "example:",
        "python -m fpam_lightning.predict ckpt_path=",
    ],
    "figures": [
        "usage: python -m fpam_lightning.figures",
        "attention",
        "tsne",
        "box",
        "example:",
        "python -m fpam_lightning.figures curves",
    ],
    "summarize": [
        "usage: python -m fpam_lightning.summarize",
        "sweep_dirs",
        "--steps",
        "(default: False)",
        "example:",
    ],
    "bench": [
        "usage: python -m fpam_lightning.bench",
        "--preset {cpu,paper}",
        "(default: cpu)",
        "example:",
        "python -m fpam_lightning.bench --preset cpu",
    ],
}


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}


def _help(argv: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}\n{proc.stderr[-3000:]}"
    return proc


def imported_modules(importtime_trace: str) -> set[str]:
    """The modules a `-X importtime` trace lists (its last column)."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime_trace.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("command", list(EXPECTED))
def test_each_command_answers_help_without_importing_torch(command, flag):
    proc = _help([sys.executable, "-X", "importtime", "-m", f"fpam_lightning.{command}", flag])
    for text in EXPECTED[command]:
        assert text in proc.stdout, f"{command} {flag}: {text!r} missing from\n{proc.stdout}"
    modules = imported_modules(proc.stderr)
    assert "fpam_lightning.utils.cli" in modules  # the trace is real: it saw the command
    assert "torch" not in modules and "lightning" not in modules, sorted(
        m for m in modules if m.startswith(("torch", "lightning"))
    )


def test_the_device_check_answers_help_without_importing_torch():
    script = REPO / "experiments" / "device" / "device_check.py"
    proc = _help([sys.executable, "-X", "importtime", str(script), "--help"])
    for text in (
        "usage: python experiments/device/device_check.py",
        "--rehearse",
        "(default: 450.0)",
    ):
        assert text in proc.stdout, proc.stdout
    modules = imported_modules(proc.stderr)
    assert "fpam_lightning.utils.cli" in modules and "torch" not in modules


def test_a_figure_kind_has_its_own_help():
    proc = _help([sys.executable, "-m", "fpam_lightning.figures", "attention", "--help"])
    assert "usage: python -m fpam_lightning.figures attention" in proc.stdout
    assert "--max-clips MAX_CLIPS" in proc.stdout and "(default: 10)" in proc.stdout
    assert "example:\n  python -m fpam_lightning.figures attention RUN/" in proc.stdout


def test_every_console_script_answers_help():
    text = (REPO / "pyproject.toml").read_text().split("[project.scripts]", 1)[1]
    section = text.split("\n[", 1)[0]
    scripts = dict(
        (part.strip().strip('"') for part in line.split("=", 1))
        for line in section.splitlines()
        if "=" in line
    )
    assert len(scripts) == 7
    folder = Path(sysconfig.get_path("scripts"))
    for name, target in scripts.items():
        command = target.split(":")[0].rsplit(".", 1)[1]
        assert (folder / name).is_file(), f"{name} is not installed in {folder}: pip install -e ."
        proc = _help([str(folder / name), "-h"])
        assert EXPECTED[command][0] in proc.stdout, f"{name} -h:\n{proc.stdout}"
