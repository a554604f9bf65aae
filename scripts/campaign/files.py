"""Small file utilities: digests, sizes, atomic JSON."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from campaign.limits import MiB


def sha256(path: Path) -> str:
    """The file's SHA-256, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mib(n: int) -> str:
    """``n`` bytes in MiB, two decimals."""
    return f"{n / MiB:.2f} MiB"


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON through a temporary file (never half written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(partial, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
