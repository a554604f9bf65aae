"""Read back the records of an offline W&B run file (``run-<id>.wandb``) for assertions.

The file is a LevelDB-style log: a 7-byte header (``:W&B``, magic, version), then 32 KiB blocks of
chunks, each with a 7-byte header (checksum u32, length u16, type u8: 1 full, 2 first, 3 middle,
4 last) holding serialised ``wandb_internal_pb2.Record`` messages.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path

BLOCK = 32 * 1024
HEADER = 7


def _payloads(data: bytes) -> Iterator[bytes]:
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < HEADER:
            pos += left_in_block
            continue
        _checksum, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == 0 and length == 0:
            pos += BLOCK - pos % BLOCK if pos % BLOCK else 0
            continue
        if kind == 1:
            yield chunk
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            yield pending + chunk
            pending = b""


def complete_bytes(path: Path, timeout: float = 60.0) -> bytes:
    """The file's bytes once it holds its ``exit`` record: W&B's service may still be writing
    the file when ``run.finish()`` has returned."""
    from wandb.proto import wandb_internal_pb2 as pb

    deadline = time.monotonic() + timeout
    while True:
        data = path.read_bytes()
        for payload in _payloads(data):
            record = pb.Record()
            record.ParseFromString(payload)
            if record.WhichOneof("record_type") == "exit":
                return data
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} has no exit record after {timeout} s")
        time.sleep(0.2)


def read_run(path: Path) -> dict:
    """Config, history rows and summary of an offline run file, values JSON-decoded."""
    from wandb.proto import wandb_internal_pb2 as pb

    def items(entries) -> dict:
        return {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in entries}

    data = complete_bytes(path)
    assert data[:4] == b":W&B", f"not a W&B run file: {path}"
    config: dict = {}
    history: list[dict] = []
    summary: dict = {}
    for payload in _payloads(data):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "config":
            config.update(items(record.config.update))
        elif kind == "run":
            config.update(items(record.run.config.update))
        elif kind == "history":
            history.append(items(record.history.item))
        elif kind == "summary":
            summary.update(items(record.summary.update))
    return {"config": config, "history": history, "summary": summary}
