"""Download, verify and extract against a loopback HTTP server this test starts, and the
extraction guard against crafted archives (`..`, absolute paths, escaping links)."""

from __future__ import annotations

import hashlib
import io
import shutil
import stat
import tarfile
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fpam_lightning.data import ESC50DataModule, UrbanSound8KDataModule
from fpam_lightning.data.download import ArchiveError, extract
from fpam_lightning.data.synthetic import synthesize_us8k
from fpam_lightning.utils.errors import DataError

from .conftest import make_esc50


class Handler(SimpleHTTPRequestHandler):
    """Serves a folder; counts requests; `/truncated/NAME` promises more bytes than it sends."""

    requests: list[str]

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.requests.append(self.path)
        if self.path.startswith("/truncated/"):
            body = (Path(self.directory) / self.path.split("/")[-1]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) + 1000))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A threaded HTTP server on 127.0.0.1 serving tmp_path/www; yields (base_url, www, log)."""
    www = tmp_path / "www"
    www.mkdir()
    log: list[str] = []
    handler = type("H", (Handler,), {"requests": log})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", www, log
    httpd.shutdown()
    httpd.server_close()


def zip_folder(folder: Path, archive: Path, top: str) -> str:
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(folder.rglob("*")):
            zf.write(p, f"{top}/{p.relative_to(folder)}")
    return hashlib.sha256(archive.read_bytes()).hexdigest()


def tar_folder(folder: Path, archive: Path, top: str) -> str:
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(folder, arcname=top)
    return hashlib.sha256(archive.read_bytes()).hexdigest()


@pytest.fixture
def esc_zip(tmp_path, server):
    """master.zip as GitHub serves ESC-50: one top folder ESC-50-master/."""
    base, www, _ = server
    src = make_esc50(tmp_path / "src" / "esc", seconds=0.25)
    return f"{base}/master.zip", zip_folder(src, www / "master.zip", "ESC-50-master")


def esc_dm(root: Path, url: str, sha256: str | None) -> ESC50DataModule:
    return ESC50DataModule(
        str(root),
        subset="esc10",
        num_classes=10,
        sample_rate=16000,
        clip_seconds=0.25,
        num_workers=0,
        download=True,
        url=url,
        sha256=sha256,
    )


def test_esc50_zip_is_downloaded_verified_extracted_used_and_never_refetched(
    tmp_path, server, esc_zip
):
    _, _, log = server
    url, digest = esc_zip
    root = tmp_path / "data" / "ESC-50-master"
    dm = esc_dm(root, url, digest)
    dm.prepare_data()
    dm.setup()
    assert len(dm.table) == 50 and len(dm.indices["test"]) == 10 and log == ["/master.zip"]
    assert (tmp_path / "data" / "downloads" / "master.zip").is_file()
    esc_dm(root, url, digest).prepare_data()  # the data set is there: nothing fetched
    assert log == ["/master.zip"]
    # The extracted copy is gone, the verified archive is not: extracted again, not fetched.
    shutil.rmtree(root)
    other = esc_dm(tmp_path / "data" / "esc50", url, digest)  # any folder name works
    other.prepare_data()
    assert (tmp_path / "data" / "esc50" / "meta" / "esc50.csv").is_file()
    assert log == ["/master.zip"]


def test_us8k_tar_gz_with_official_layout(tmp_path, server):
    base, www, log = server
    src = synthesize_us8k(tmp_path / "src" / "us", clips_per_class_per_fold=1, seconds=0.25)
    tar_folder(src, www / "UrbanSound8K.tar.gz", "UrbanSound8K")
    root = tmp_path / "data" / "UrbanSound8K"
    dm = UrbanSound8KDataModule(
        str(root),
        sample_rate=16000,
        clip_seconds=0.5,
        num_workers=0,
        download=True,
        url=f"{base}/UrbanSound8K.tar.gz",
        sha256=None,
    )
    dm.prepare_data()
    dm.setup()
    assert len(dm.table) == 100 and dm.skipped == [] and log == ["/UrbanSound8K.tar.gz"]
    assert (root / "audio" / "fold10").is_dir()


def test_wrong_checksum_is_detected_and_not_used(tmp_path, server, esc_zip):
    _, _, log = server
    url, digest = esc_zip
    root = tmp_path / "data" / "ESC-50-master"
    with pytest.raises(
        DataError,
        match="checksum mismatch.*Place an existing copy|Place an existing copy.*checksum mismatch",
    ):
        esc_dm(root, url, "0" * 64).prepare_data()
    assert len(log) == 3  # retried, then reported
    assert not root.exists() and not list((tmp_path / "data" / "downloads").iterdir())


def test_corrupt_archive_is_detected_deleted_and_not_used(tmp_path, server, esc_zip):
    base, www, _ = server
    raw = bytearray((www / "master.zip").read_bytes())
    raw[len(raw) // 3 : len(raw) // 3 + 200] = bytes(200)  # damage a member's data
    (www / "broken.zip").write_bytes(bytes(raw))
    (www / "garbage.zip").write_bytes(b"this is not an archive" * 100)
    root = tmp_path / "data" / "ESC-50-master"
    for name, message in [("broken.zip", "corrupt archive"), ("garbage.zip", "neither a zip")]:
        with pytest.raises(DataError, match=message):
            esc_dm(root, f"{base}/{name}", None).prepare_data()
        assert not root.exists()
        assert not (tmp_path / "data" / "downloads" / name).exists()
        assert not list((tmp_path / "data").glob(".*partial"))


def test_truncated_transfer_is_detected(tmp_path, server, esc_zip):
    base, _, log = server
    root = tmp_path / "data" / "ESC-50-master"
    with pytest.raises(
        DataError,
        match="could not download .*truncated/master.zip: (incomplete download|IncompleteRead)",
    ):
        esc_dm(root, f"{base}/truncated/master.zip", None).prepare_data()
    assert len(log) == 3 and not root.exists()
    assert not list((tmp_path / "data" / "downloads").iterdir())


def test_unreachable_server_says_how_to_place_the_data(tmp_path, server):
    base, _, _ = server
    port = int(base.rsplit(":", 1)[1])
    root = tmp_path / "data" / "ESC-50-master"
    url = f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}/master.zip"
    with pytest.raises(
        DataError, match="Place an existing copy there, or point at one with data.root="
    ):
        esc_dm(root, url, None).prepare_data()


def test_a_local_file_stands_in_for_a_mirror(tmp_path, server, esc_zip):
    _, www, log = server
    root = tmp_path / "data" / "ESC-50-master"
    esc_dm(root, str(www / "master.zip"), esc_zip[1]).prepare_data()
    assert (root / "meta" / "esc50.csv").is_file() and log == []


# --- crafted archives ------------------------------------------------------------------------


def crafted_tar(path: Path, kind: str, outside: Path) -> None:
    with tarfile.open(path, "w:gz") as tf:

        def add(name, data=b"evil", **attrs):
            info = tarfile.TarInfo(name)
            for k, v in attrs.items():
                setattr(info, k, v)
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            tf.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)

        add("ok/readme.txt", b"fine")
        if kind == "dotdot":
            add("ok/../../evil.txt")
        elif kind == "absolute":
            add(str(outside / "evil.txt"))
        elif kind == "symlink":
            add("ok/link", type=tarfile.SYMTYPE, linkname=str(outside))
            add("ok/link/evil.txt")
        elif kind == "relative_symlink":
            add("ok/link", type=tarfile.SYMTYPE, linkname="../../outside")
            add("ok/link/evil.txt")
        elif kind == "hardlink":
            add("ok/hard", type=tarfile.LNKTYPE, linkname="../../outside/evil.txt")


def crafted_zip(path: Path, kind: str, outside: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok/readme.txt", b"fine")
        if kind == "dotdot":
            zf.writestr("ok/../../evil.txt", b"evil")
        elif kind == "absolute":
            zf.writestr(zipfile.ZipInfo(str(outside / "evil.txt")), b"evil")
        elif kind in ("symlink", "relative_symlink"):
            info = zipfile.ZipInfo("ok/link")
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, str(outside) if kind == "symlink" else "../../outside")


CRAFTED = [("tar", k) for k in ("dotdot", "absolute", "symlink", "relative_symlink", "hardlink")]
CRAFTED += [("zip", k) for k in ("dotdot", "absolute", "symlink", "relative_symlink")]


@pytest.mark.parametrize("fmt,kind", CRAFTED)
def test_crafted_archives_are_rejected_and_write_nothing(tmp_path, fmt, kind):
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = tmp_path / f"evil.{'tar.gz' if fmt == 'tar' else 'zip'}"
    (crafted_tar if fmt == "tar" else crafted_zip)(archive, kind, outside)
    dest = tmp_path / "box" / "dest"
    before = sorted(p for p in tmp_path.rglob("*") if p != archive)
    with pytest.raises(ArchiveError, match="escape|link|absolute"):
        extract(archive, dest)
    assert not list(outside.iterdir())
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "box" / "evil.txt").exists()
    assert not list(dest.rglob("*"))  # checked before anything is written
    after = sorted(
        p
        for p in tmp_path.rglob("*")
        if p != archive and not str(p).startswith(str(tmp_path / "box"))
    )
    assert after == [p for p in before if not str(p).startswith(str(tmp_path / "box"))]
