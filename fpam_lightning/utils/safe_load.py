"""Read any checkpoint file with `torch.load(weights_only=True)`, with one set of messages.

Every path that opens a checkpoint goes through `safe_torch_load`: resuming training (the
Lightning CheckpointIO) and evaluate / predict / export (both in `training.checkpoint`, the
project's one checkpoint module, which re-exports what is here), and backbone weights
(`backbone.checkpoint`, read by `models.weights`, a layer below training: hence utils).
Only tensors and plain containers are unpickled, so a file from an untrusted source cannot run
code. When loading fails, the message says which of three things is wrong:

* the path is not a file;
* the file is not a PyTorch checkpoint at all (random bytes, an empty or truncated file, a
  text file): "not a PyTorch checkpoint (cannot be read: ...)";
* the file is a well-formed pickle that holds Python objects (classes, functions) beside the
  tensors, which weights_only refuses because unpickling them could run code
  (`UnsafeCheckpointError`).
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

from .errors import FpamError


class CheckpointError(FpamError):
    """The checkpoint is missing, unreadable, or not one of this project's models."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint holds Python objects that only a full unpickler could build."""


LEGACY_PICKLES = 4  # a pre-1.6 torch.save file: magic number, protocol, sys info, the object


def safe_torch_load(
    path: str | os.PathLike | None,
    *,
    setting: str | None = None,
    hint: str = "",
    map_location: Any = "cpu",
) -> Any:
    """`torch.load(path, weights_only=True)`, or a `CheckpointError` the user can act on.

    `setting` is the config key the path came from (`ckpt_path`, `backbone.checkpoint`), so
    the message names it; `hint` is appended to the "is not a file" message.
    """
    import torch  # here, so that importing utils stays cheap

    path = Path(str(path)).expanduser()
    subject = f"{setting}={path}" if setting else f"checkpoint {path}"
    if str(path) in (".", "None", "null") or not path.is_file():
        raise CheckpointError(f"{subject} is not a file{hint}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # pickle, zip, EOF and OS errors have no common base class
        if isinstance(e, pickle.UnpicklingError):
            objects = pickled_objects(path)
            if objects:
                raise UnsafeCheckpointError(
                    f"refusing to load {subject}: it holds Python objects "
                    f"({', '.join(objects[:3])}{', ...' if len(objects) > 3 else ''}), not only "
                    "tensors and plain containers, and unpickling them could run code, so "
                    "torch.load(weights_only=True) refuses them. Re-save its state_dict from a "
                    "trusted environment."
                ) from None
        raise CheckpointError(
            f"{subject} is not a PyTorch checkpoint (cannot be read: {unreadable_reason(path, e)})"
        ) from e


def unreadable_reason(path: Path, error: BaseException) -> str:
    """Why the bytes are not a checkpoint, in one line."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:  # e.g. no permission to read it
        return f"{type(e).__name__}: {e.strerror or e}"
    if not head:
        return "the file is empty"
    if not head.startswith((b"PK", b"\x80")):
        return "it is neither a zip archive nor a pickle, the formats torch.save writes"
    # weights_only failures wrap the real reason ("Unsupported operand 27") in a long advice.
    inner = error.__context__ if isinstance(error, pickle.UnpicklingError) else None
    error = inner if isinstance(inner, pickle.UnpicklingError) else error
    text = str(error).strip()
    first = text.splitlines()[0].split(". ")[0][:200] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def pickled_objects(path: Path) -> list[str]:
    """The classes and functions (module.name) a well-formed checkpoint's pickle names that
    weights_only does not allow, sorted; empty when the file holds no well-formed pickle.

    torch's `get_unsafe_globals_in_checkpoint` reads the zip files torch.save writes without
    building anything. It does not take a legacy torch.save file (a few pickles in a row) or a
    plain pickle of protocol 4+, so their globals are collected by `_GlobalNames`, which builds
    stand-ins only, and handed to torch's check as a pickle of those globals alone.
    """
    import torch

    try:
        if zipfile.is_zipfile(path):
            return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(path))
        stream = io.BytesIO(Path(path).read_bytes())
    except Exception:  # zip, OS and unpickling errors: not a well-formed checkpoint
        return []
    names: dict[tuple[str, str], None] = {}
    # One pickle in a plain pickle file; a legacy torch.save file holds a few in a row.
    for _ in range(LEGACY_PICKLES):
        if stream.read(1) != b"\x80":  # every pickle of protocol 2+ opens with PROTO
            break
        stream.seek(-1, io.SEEK_CUR)
        reader = _GlobalNames(stream)
        try:
            reader.load()
        except Exception:  # malformed or truncated: not a well-formed pickle
            break
        names.update(reader.names)
    if not names:
        return []
    only_globals = b"\x80\x02(" + b"".join(f"c{m}\n{n}\n".encode() for m, n in names) + b"t."
    try:
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(_zipped(only_globals)))
    except Exception:  # a name torch's reader cannot take: report the file as unreadable
        return []


class _StandIn:
    """What `_GlobalNames` builds for every global: accepts any call, state and items."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _StandIn:
        return _StandIn()

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass


class _GlobalNames(pickle.Unpickler):
    """Reads one pickle and records the globals it names, building none of them (the standard
    library's "restricting globals" pattern: `find_class` returns a stand-in)."""

    def __init__(self, stream: io.BytesIO):
        super().__init__(stream)
        self.names: dict[tuple[str, str], None] = {}

    def find_class(self, module: str, name: str) -> type:
        self.names[(module, name)] = None
        return _StandIn

    def persistent_load(self, pid: Any) -> None:
        return None


def _zipped(pickled: bytes) -> io.BytesIO:
    """A pickle in the zip layout torch.save writes (data.pkl and a version record)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickled)
        z.writestr("archive/version", "3\n")
    buffer.seek(0)
    return buffer
