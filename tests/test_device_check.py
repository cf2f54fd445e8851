"""The device check (`make device-check`): its CPU rehearsal through the real command, the
protocol's extrapolation, and the wheelhouse check on wheels built here."""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import REPO, run_cli

# The device check is our tool, beside the experiments, not part of the package.
DEVICE = REPO / "experiments" / "device"
sys.path.insert(0, str(DEVICE))
device_check = importlib.import_module("device_check")
PROTOCOL = importlib.import_module("device_report").PROTOCOL
extrapolate = importlib.import_module("device_report").extrapolate


def rehearse(out: Path, *flags: str) -> dict:
    proc = run_cli(str(DEVICE / "device_check.py"), "--rehearse", "--out", str(out), *flags)
    report = json.loads((out / "report.json").read_text())
    assert (out / "report.md").read_text() in proc.stdout
    env = report["environment"]
    assert report["rehearse"] is True and env["packages"]["torch"] and env["commit"]
    assert env["gpu_count"] == 0 and env["gpus"] == [] and env["hardware"]["cpu_count"] >= 1
    assert "CPU REHEARSAL" in (out / "report.md").read_text()
    return report


def check_fold(report: dict) -> None:
    fold = report["steps"]["fold"]
    assert fold["status"] == "ok" and math.isfinite(fold["results"]["test_loss"])
    x = fold["extrapolation"]
    # The tiny fold (4 classes x 2 clips x 5 folds, 1 epoch) stands for 60 x 2000 clip-epochs.
    assert x["measured"] == {"train_clips": 32, "test_clips": 8, "epochs": 1}
    assert x["scale"] == pytest.approx(60 * 2000 / 40)
    assert x["measured_s"] == fold["results"]["duration_s"] > 0
    assert x["protocol_s"] == pytest.approx(5 * x["fold_s"]) and "extrapolation" in x["kind"]


def test_rehearsal_writes_the_machine_and_every_step_status(tmp_path):
    """The quick variant: the command, its environment record and its report, steps skipped
    (the slow test below runs them all)."""
    out = tmp_path / "report"
    report = rehearse(out, "--skip", "ddp,bench,fold,pretrained_fold,gpu_tests")
    statuses = {k: v["status"] for k, v in report["steps"].items()}
    assert statuses == {
        "environment": "ok",
        **dict.fromkeys(device_check.STEPS[1:], "skipped (--skip)"),
    }
    assert report["environment"]["bf16_matmul_tflops_measured"] is None  # no GPU to time
    assert report["environment"]["packages"]["hydra-core"] and report["duration_s"] >= 0
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md", "steps.log"]


@pytest.mark.slow  # every step: DDP over gloo, the bench, the fold and the gpu tests (~3 min)
def test_full_rehearsal_runs_every_step(tmp_path):
    out = tmp_path / "report"
    report = rehearse(out)
    steps = report["steps"]
    assert all(s["status"] == "ok" for s in steps.values()), steps
    check_fold(report)
    assert "EXTRAPOLATED (x3000.00)" in (out / "report.md").read_text()
    pre = steps["pretrained_fold"]["extrapolation"]
    assert pre["protocol"]["epochs"] == 25 and pre["protocol_s"] == pytest.approx(5 * pre["fold_s"])
    assert "The pretrained recipe" in (out / "report.md").read_text()
    assert steps["ddp"]["devices"] == 2 and steps["ddp"]["results"]["status"] == "completed"
    figures = steps["bench"]["figures"]
    assert figures["lightning_over_bare"] > 0 and figures["clips_per_s_lightning"] > 0
    assert figures["fraction_of_bf16_peak"] is None  # no data-sheet peak for a CPU
    bench = json.loads((out / "bench.json").read_text())
    assert figures["lightning_over_bare"] == bench["ratios"]["lightning_over_bare"]
    # At most 8 files: what the device machine hands back from one folder.
    names = sorted(p.name for p in out.iterdir())
    assert names == ["bench.json", "bench.md", "report.json", "report.md", "steps.log"]


def test_unknown_step_is_one_line(capsys, tmp_path):
    assert device_check.main(["--skip", "fold,nope", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "error: --skip nope: choose from ddp,bench,fold,pretrained_fold,gpu_tests\n"
    )


def test_extrapolation_is_linear_in_clips_and_epochs():
    x = extrapolate(120.0, train_clips=400, test_clips=100, epochs=60)
    assert x["scale"] == 4.0 and x["fold_s"] == 480.0 and x["protocol_s"] == 2400.0
    assert x["protocol"] == PROTOCOL and PROTOCOL["train_clips"] * PROTOCOL["folds"] == 8000


# --- the wheelhouse check ------------------------------------------------------------------------
def make_wheel(folder: Path, name: str, version: str, tag: str, requires: list[str] = ()) -> Path:
    """A real (if empty) wheel: a zip with the dist-info a wheel installer reads."""
    dist = f"{name}-{version}"
    path = folder / f"{dist}-{tag}.whl"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{dist}.dist-info/METADATA", "\n".join(meta) + "\n")
        z.writestr(f"{dist}.dist-info/WHEEL", f"Wheel-Version: 1.0\nTag: {tag}\n")
        z.writestr(f"{dist}.dist-info/RECORD", "")
    return path


CHECK_WHEELHOUSE = REPO / "experiments" / "device" / "check_wheelhouse.py"


def check(wheelhouse: Path, tmp_path: Path, wanted: str) -> subprocess.CompletedProcess:
    (tmp_path / "image.txt").write_text("# image\nnumpy\nPyYAML\n")
    (tmp_path / "req.txt").write_text(wanted)
    return subprocess.run(
        [sys.executable, str(CHECK_WHEELHOUSE), str(wheelhouse),
         "--image", str(tmp_path / "image.txt"), "--requirements", str(tmp_path / "req.txt")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_wheelhouse_check_passes_a_closed_set_and_names_each_problem(tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    make_wheel(good, "soundfile", "0.14.0", "py2.py3-none-manylinux_2_28_x86_64",
               ["cffi>=1.0", "numpy", 'pywin32; sys_platform == "win32"'])  # fmt: skip
    make_wheel(good, "cffi", "2.1.1", "cp312-cp312-manylinux_2_17_x86_64", ["pycparser"])
    make_wheel(good, "pycparser", "3.12", "py3-none-any")
    make_wheel(good, "omegaconf", "2.3.1", "py3-none-any", ["PyYAML>=5.1", 'x; extra == "dev"'])
    proc = check(good, tmp_path, "soundfile==0.14.0\nomegaconf==2.3.1\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{good}: 4 wheels, 0.0 MiB (limit 64 MiB)")

    bad = tmp_path / "bad"
    bad.mkdir()
    make_wheel(bad, "soundfile", "0.14.0", "py2.py3-none-win_amd64", ["cffi>=3"])
    make_wheel(bad, "cffi", "2.1.1", "cp311-cp311-manylinux_2_17_x86_64")
    make_wheel(bad, "cffi", "2.1.0", "cp312-cp312-manylinux_2_17_x86_64")
    proc = check(bad, tmp_path, "soundfile==0.14.0\nwandb==0.31.0\n")
    assert proc.returncode == 1
    errors = proc.stderr.splitlines()
    assert errors == [
        "error: cffi-2.1.1-cp311-cp311-manylinux_2_17_x86_64.whl: does not install on "
        "CPython 3.12, manylinux x86_64",
        "error: soundfile-0.14.0-py2.py3-none-win_amd64.whl: does not install on CPython 3.12, "
        "manylinux x86_64",
        "error: cffi: 2 versions (2.1.0, 2.1.1)",
        "error: soundfile-0.14.0-py2.py3-none-win_amd64.whl needs cffi>=3: neither here nor in "
        "the image",
        "error: requirements.txt asks for wandb==0.31.0: no such wheel here",
    ]


WHEELHOUSE = CHECK_WHEELHOUSE.parent / "wheelhouse"


@pytest.mark.skipif(not WHEELHOUSE.is_dir(), reason="make wheelhouse has not run here")
def test_built_wheelhouse_is_closed_and_fits():
    proc = subprocess.run(
        [sys.executable, str(CHECK_WHEELHOUSE), str(WHEELHOUSE)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
