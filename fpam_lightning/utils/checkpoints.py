"""Read any checkpoint file with `torch.load(weights_only=True)`, with one set of messages.

Every path that opens a checkpoint goes through `safe_torch_load`: resuming training (the
Lightning CheckpointIO), evaluate / predict / export (`training.checkpoint`) and backbone
weights (`backbone.checkpoint`). Only tensors and plain containers are unpickled, so a file
from an untrusted source cannot run code. When loading fails, the message says which of three
things is wrong:

* the path is not a file;
* the file is not a PyTorch checkpoint at all (random bytes, an empty or truncated file, a
  text file): "not a PyTorch checkpoint (cannot be read: ...)";
* the file is a well-formed pickle that holds Python objects (classes, functions) beside the
  tensors, which weights_only refuses because unpickling them could run code
  (`UnsafeCheckpointError`).
"""

from __future__ import annotations

import _compat_pickle
import io
import os
import pickle
import pickletools
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
    weights_only does not allow; empty when the file holds no well-formed pickle.

    Read with `pickletools`, which parses the opcodes and builds nothing.
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                member = next((n for n in z.namelist() if n.endswith("data.pkl")), None)
                data = z.read(member) if member is not None else b""
        else:
            data = Path(path).read_bytes()
    except (OSError, zipfile.BadZipFile, RuntimeError):
        return []
    stream, names = io.BytesIO(data), []
    # One pickle in a zip checkpoint; a legacy torch.save file holds a few in a row.
    for _ in range(LEGACY_PICKLES):
        if stream.read(1) != b"\x80":  # every pickle of protocol 2+ opens with PROTO
            break
        stream.seek(-1, io.SEEK_CUR)
        found = _globals_of_one_pickle(stream)
        if found is None:
            break
        names += found
    allowed = _allowed_globals()
    return [n for n in dict.fromkeys(names) if n not in allowed]


def _globals_of_one_pickle(stream: io.BytesIO) -> list[str] | None:
    """The globals one pickle names, read up to its STOP; None when it is malformed."""
    names: list[str] = []
    pushed: list[str | None] = []  # recent pushes: STACK_GLOBAL takes module and name from them
    memo: dict[int, str | None] = {}
    try:
        for op, arg, _ in pickletools.genops(stream):
            if op.name in ("GLOBAL", "INST"):
                names.append(_qualified(*str(arg).split(" ", 1)))
            elif op.name == "STACK_GLOBAL":
                names.append(_qualified(*(str(v) for v in pushed[-2:])))
            elif op.name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = pushed[-1] if pushed else None
            elif op.name == "MEMOIZE":
                memo[len(memo)] = pushed[-1] if pushed else None
            elif op.name in ("GET", "BINGET", "LONG_BINGET"):
                pushed.append(memo.get(int(arg)))
            else:
                pushed.append(arg if isinstance(arg, str) else None)
    except Exception:  # pickletools raises ValueError, and others on truncated data
        return None
    return names


def _qualified(module: str, name: str = "") -> str:
    """module.name as Python 3 spells it (protocol 2 pickles say __builtin__ for builtins)."""
    module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
    return f"{_compat_pickle.IMPORT_MAPPING.get(module, module)}.{name}"


def _allowed_globals() -> set[str]:
    """What `torch.load(weights_only=True)` builds: its own list and any registered safe ones."""
    import torch

    try:
        from torch._weights_only_unpickler import _get_allowed_globals

        allowed = set(_get_allowed_globals())
    except (ImportError, AttributeError, TypeError):  # a private helper: then only the safe ones
        allowed = set()
    for g in torch.serialization.get_safe_globals():
        g = g[0] if isinstance(g, tuple) else g
        allowed.add(f"{getattr(g, '__module__', '')}.{getattr(g, '__qualname__', g)}")
    return allowed or {"collections.OrderedDict"}
