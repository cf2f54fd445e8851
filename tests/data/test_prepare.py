"""Several processes started together on an empty data folder, as the jobs of a parallel sweep:
each one succeeds, and the data set and its waveform cache are built exactly once."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

from .test_download import esc_zip, server  # noqa: F401 (fixtures)

# One job's data preparation, logging at INFO so that each build shows in its stderr.
PREPARE = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
from fpam_lightning.data import ESC50DataModule
root, url = sys.argv[1], sys.argv[2]
kw = dict(download=True, url=url) if url else dict(
    synthetic=dict(num_classes=4, clips_per_class_per_fold=2, seconds=0.5, sample_rate=16000))
dm = ESC50DataModule(root, num_classes=4 if not url else 10, subset="esc10" if url else "esc50",
                     sample_rate=16000, clip_seconds=0.25 if url else 0.5, num_workers=0, **kw)
dm.prepare_data()
dm.setup()
print(len(dm.table))
"""


def prepare_together(root: Path, url: str = "", n: int = 4) -> list[subprocess.CompletedProcess]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PREPARE, str(root), url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    done = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def test_parallel_jobs_generate_synthetic_data_and_cache_once(tmp_path):
    root = tmp_path / "data" / "synthetic"
    jobs = prepare_together(root)
    assert [j.returncode for j in jobs] == [0] * 4, [j.stderr[-2000:] for j in jobs]
    assert {j.stdout.split()[-1] for j in jobs} == {"40"}  # 4 classes x 2 clips x 5 folds
    logs = "".join(j.stderr for j in jobs)
    assert logs.count("generating synthetic ESC-50-layout data") == 1
    assert logs.count("building waveform cache") == 1
    assert not list(root.parent.glob(".*partial"))


def test_a_built_data_set_takes_the_process_umask_not_0700(tmp_path):
    """A lab shares one data folder: the set built by one member's job is renamed into place
    from its staging folder, which once kept mkdtemp's 0700 (no one else could read it)."""
    root = tmp_path / "data" / "synthetic"
    job = subprocess.run(
        [sys.executable, "-c", PREPARE, str(root), ""],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: os.umask(0o002),  # a group-shared folder's usual umask
    )
    assert job.returncode == 0, job.stderr[-2000:]
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}
    assert {oct(modes[p]) for p in modes if p.is_dir()} == {"0o775"}
    assert {oct(modes[p]) for p in modes if p.is_file()} == {"0o664"}


@pytest.mark.slow
def test_parallel_jobs_download_and_extract_once(tmp_path, server, esc_zip):  # noqa: F811
    _, _, requests = server
    url, _ = esc_zip
    root = tmp_path / "data" / "ESC-50-master"
    jobs = prepare_together(root, url, n=3)
    assert [j.returncode for j in jobs] == [0] * 3, [j.stderr[-2000:] for j in jobs]
    assert requests == ["/master.zip"]
    logs = "".join(j.stderr for j in jobs)
    assert logs.count("extracted master.zip") == 1
    assert logs.count("building waveform cache") == 1
    assert not list(root.parent.glob(".*partial"))
