"""Fetch, verify and safely extract a data set archive.

A download lands under a temporary name and is used only after its size and (when pinned) its
SHA-256 match. Extraction refuses absolute paths, `..`, links that leave the target and device
files, so a crafted archive cannot write outside the data folder.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import stat
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from ..utils.errors import DataError
from ..utils.io import atomic_path
from .prepare import build_lock, staging_folder

log = logging.getLogger(__name__)


class ArchiveError(DataError):
    """An archive that is corrupt or would write outside its target folder."""


def sha256sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _fetch(url: str, dest: Path, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as r, atomic_path(dest) as tmp:
        expected = int(r.headers.get("Content-Length") or 0) or None
        done = 0
        with (
            open(tmp, "wb") as f,
            tqdm(total=expected, unit="B", unit_scale=True, desc=dest.name, disable=None) as bar,
        ):
            while block := r.read(1 << 20):
                f.write(block)
                done += len(block)
                bar.update(len(block))
        if expected is not None and done != expected:
            raise ArchiveError(f"incomplete download from {url}: {done} of {expected} bytes")


def download(
    url: str, dest: Path, sha256: str | None = None, retries: int = 2, timeout: float = 15.0
) -> Path:
    """Download `url` to `dest` unless a verified copy is already there."""
    if dest.exists() and (sha256 is None or sha256sum(dest) == sha256.lower()):
        return dest
    if "://" not in url:  # a local file stands in for a mirror
        src = Path(url).expanduser()
        if not src.is_file():
            raise DataError(f"data.url points at {src}, which is not a file")
        url = src.resolve().as_uri()
    last: Exception | None = None
    for attempt in range(retries + 1):
        try:
            _fetch(url, dest, timeout)
            if sha256 is not None:
                got = sha256sum(dest)
                if got != sha256.lower():
                    dest.unlink()
                    raise ArchiveError(f"checksum mismatch for {url}: expected {sha256}, got {got}")
            else:
                log.warning("no data.sha256 pinned for %s; its SHA-256 is %s", url, sha256sum(dest))
            return dest
        except ArchiveError as e:
            last = e
        except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as e:
            last = e
            if isinstance(e, urllib.error.URLError) and not isinstance(e, urllib.error.HTTPError):
                break  # no route to the host: retrying only delays the message
        if attempt < retries:
            time.sleep(0.5 * (attempt + 1))
    raise DataError(f"could not download {url}: {last}") from last


def _safe_target(root: Path, name: str) -> Path:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise ArchiveError(f"archive member {name!r} would escape the target folder")
    target = (root / p).resolve()
    if root != target and root not in target.parents:
        raise ArchiveError(f"archive member {name!r} would escape the target folder")
    return target


def extract(archive: Path, dest: Path) -> None:
    """Extract a zip or tar(.gz) archive into `dest`, refusing anything unsafe before writing."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _safe_target(root, info.filename)
                    mode = info.external_attr >> 16
                    if stat.S_ISLNK(mode):
                        raise ArchiveError(f"archive member {info.filename!r} is a symbolic link")
                bad = zf.testzip()
                if bad is not None:
                    raise ArchiveError(f"corrupt archive {archive}: bad CRC in {bad}")
                zf.extractall(root)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                for m in members:
                    target = _safe_target(root, m.name)
                    if m.isdev() or m.isfifo():
                        raise ArchiveError(f"archive member {m.name!r} is a device or FIFO")
                    if m.issym() or m.islnk():
                        link = (target.parent / m.linkname) if m.issym() else root / m.linkname
                        _safe_target(root, str(Path(os.path.relpath(link.resolve(), root))))
                        if Path(m.linkname).is_absolute():
                            raise ArchiveError(
                                f"archive member {m.name!r} links to an absolute path"
                            )
                tf.extractall(root, members=members, filter="data")
        else:
            raise ArchiveError(f"{archive} is neither a zip nor a tar archive (corrupt download?)")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
        raise ArchiveError(f"corrupt archive {archive}: {e}") from e


def find_dataset_folder(top: Path, marker: str, depth: int = 3) -> Path | None:
    """The shallowest folder under `top` that holds `marker` (e.g. meta/esc50.csv)."""
    level = [top]
    for _ in range(depth + 1):
        for d in level:
            if (d / marker).is_file():
                return d
        level = sorted(c for d in level for c in d.iterdir() if c.is_dir() and not c.is_symlink())
    return None


def fetch_dataset(
    url: str, sha256: str | None, download_dir: Path, root: Path, marker: str
) -> Path:
    """Download (unless present), verify and extract an archive; its data set ends up at `root`.

    The archive's top folder may have any name (ESC-50-master, UrbanSound8K): the folder that
    holds `marker` becomes `root`. An archive that is corrupt, unsafe or lacks `marker` is
    deleted, so the next attempt downloads it afresh instead of trusting it.
    """
    download_dir.mkdir(parents=True, exist_ok=True)
    name = Path(urllib.request.url2pathname(url.split("?")[0])).name or "archive"
    # One download and one extraction for all the jobs of a sweep started on an empty folder.
    with build_lock(root), staging_folder(root) as staging:
        if (root / marker).is_file():
            return root  # another job extracted it while this one waited
        archive = download(url, download_dir / name, sha256)
        try:
            extract(archive, staging)
            found = find_dataset_folder(staging, marker)
            if found is None:
                raise ArchiveError(f"{archive} holds no {marker}: not the expected data set")
            log.info("extracted %s to %s", archive.name, root)
            if not root.exists():
                os.replace(found, root)
            else:  # e.g. a cache folder is already there: move the data set in beside it
                for item in found.iterdir():
                    if not (root / item.name).exists():
                        os.replace(item, root / item.name)
        except ArchiveError:
            archive.unlink(missing_ok=True)  # never reuse a corrupt archive
            raise
    return root
