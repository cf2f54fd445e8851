"""The package as a user installs it: a non-editable wheel in a fresh virtual environment."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from helpers import REPO


def _run(cmd: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{cmd} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def test_wheel_in_a_fresh_venv_runs_the_quick_start_from_another_folder(tmp_path, tiny_overrides):
    """`pip install .` (not editable) ships conf/ and the commands; nothing reads the checkout."""
    src = tmp_path / "src"  # a copy, so the build leaves nothing in the checkout
    for name in ("pyproject.toml", "README.md"):
        src.mkdir(exist_ok=True)
        shutil.copy(REPO / name, src / name)
    shutil.copytree(
        REPO / "fpam_lightning",
        src / "fpam_lightning",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    dist = tmp_path / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(REPO),
        ],
        cwd=tmp_path,
    )
    wheel = next(dist.glob("fpam_lightning-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    _run(
        [str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        cwd=tmp_path,
    )
    # The third-party dependencies come from this interpreter's site-packages as a plain path
    # (its .pth files, among them the editable install of this checkout, are not processed).
    site = Path(
        _run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=tmp_path,
        ).stdout.strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run(
        [str(py), "-c", "import fpam_lightning; print(fpam_lightning.__file__)"], cwd=elsewhere
    )
    assert str(env_dir) in where.stdout, where.stdout  # the installed copy, not the checkout
    run_dir = tmp_path / "run"
    _run(
        [
            str(py),
            "-m",
            "fpam_lightning.train",
            *tiny_overrides,
            "++trainer.limit_train_batches=1",
            "data.val=none",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=elsewhere,
    )
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "completed" and results["dataset"] == "synthetic_esc50"
    for command in (
        "fpam-train",
        "fpam-evaluate",
        "fpam-predict",
        "fpam-export",
        "fpam-figures",
        "fpam-summarize",
        "fpam-bench",
    ):
        assert (env_dir / "bin" / command).exists(), command
    help_text = _run([str(env_dir / "bin" / "fpam-summarize"), "--help"], cwd=elsewhere).stdout
    assert "sweep" in help_text
