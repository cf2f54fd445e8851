"""Preparing a data folder once when several processes (the jobs of a sweep) start on it together.

Whoever takes the folder's lock first builds (generates, downloads and extracts); the others wait,
then find the result and reuse it. Each builder writes into its own staging folder, renamed into
place at the end, so a crashed build never leaves half a data set and two builders never delete
each other's files. (The waveform cache has its own lock: data/cache.py.)
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock


def build_lock(root: str | os.PathLike) -> FileLock:
    """The lock that guards building `root`; re-entrant within a process."""
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(root.parent / f".{root.name}.lock"), is_singleton=True)


@contextmanager
def staging_folder(root: str | os.PathLike) -> Iterator[Path]:
    """A new empty folder beside `root`, this process's own; removed afterwards unless it was
    renamed into place. Made with the process umask's mode, not mkdtemp's 0700: the data set it
    becomes may be a lab's shared folder."""
    root = Path(root)
    staging = root.parent / f".{root.name}.{uuid.uuid4().hex}.partial"
    staging.mkdir()
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
