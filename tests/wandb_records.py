"""Read back what an offline W&B run wrote: its run-*.wandb transaction log, record by record.

The file is a LevelDB-style log (a 7-byte ':W&B' header, then 32 KiB blocks of checksummed,
possibly fragmented records), each record a `wandb_internal_pb2.Record`.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

from wandb.proto import wandb_internal_pb2 as pb

BLOCK = 32 * 1024
HEADER = 7  # ':W&B', magic (2 bytes), version (1 byte)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_records(path: str | Path) -> list[pb.Record]:
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    records, pos, parts = [], HEADER, b""
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:
            pos += left
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if length == 0 and kind == 0:
            pos += left  # zero padding to the end of the block
            continue
        body = data[pos + 7 : pos + 7 + length]
        if zlib.crc32(body, zlib.crc32(bytes([kind]))) != crc:
            raise ValueError(f"{path}: bad checksum at byte {pos}")
        pos += 7 + length
        if kind == FULL:
            parts = body
        elif kind == FIRST:
            parts = body
            continue
        elif kind == MIDDLE:
            parts += body
            continue
        elif kind == LAST:
            parts += body
        record = pb.Record()
        record.ParseFromString(parts)
        records.append(record)
        parts = b""
    return records


def _key(item) -> str:
    return item.key or "/".join(item.nested_key)


def _config_value(value_json: str):
    """Config items come as the value itself or wrapped as {"value": ..., "desc": ...}."""
    value = json.loads(value_json)
    if isinstance(value, dict) and "value" in value and set(value) <= {"value", "desc"}:
        return value["value"]
    return value


def summarize_run(run_dir: str | Path) -> dict:
    """The run's id, group, name, tags, config keys, last summary values and exit code."""
    log = next(Path(run_dir).glob("run-*.wandb"))
    out = {"config": {}, "summary": {}, "history_keys": set(), "exit_code": None}
    for r in read_records(log):
        kind = r.WhichOneof("record_type")
        if kind == "run":
            out.update(
                run_id=r.run.run_id,
                group=r.run.run_group,
                name=r.run.display_name,
                tags=list(r.run.tags),
            )
            for item in r.run.config.update:
                out["config"][item.key] = _config_value(item.value_json)
        elif kind == "config":
            for item in r.config.update:
                out["config"][item.key] = _config_value(item.value_json)
        elif kind == "history":
            out["history_keys"].update(_key(item) for item in r.history.item)
        elif kind == "summary":
            for item in r.summary.update:
                out["summary"][_key(item)] = json.loads(item.value_json)
        elif kind == "exit":
            out["exit_code"] = r.exit.exit_code
    return out
