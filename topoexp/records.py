"""Run records that never lie: ``status.json`` with a heartbeat, and ``provenance.json``.

``status.json`` is written when a run starts (``running``, with pid, host and a heartbeat time
renewed every :data:`HEARTBEAT_S` seconds) and when it ends (``completed``, or ``failed`` with the
error and traceback). A run killed without a chance to write (SIGKILL, power loss) keeps
``running``; :func:`run_state` tells it apart as ``interrupted`` when its heartbeat is stale or,
on the same host, its process is gone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import traceback
from importlib import metadata
from pathlib import Path
from typing import Any

from topoexp import io

__all__ = ["HEARTBEAT_S", "RunRecord", "provenance", "read_status", "run_state"]

HEARTBEAT_S = 30.0
STALE_AFTER_S = 4 * HEARTBEAT_S
PACKAGES = (
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "scikit-learn",
    "hydra-core",
    "omegaconf",
    "gudhi",
    "ripser",
    "numba",
    "openTSNE",
    "umap-learn",
    "POT",
    "wandb",
    "topoexp",
)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def code_root(root: Path | None = None) -> Path:
    """The repository of the running ``topoexp`` package, wherever the command runs: the folder
    above the package (an installed wheel has no repository there, and ``git`` finds none)."""
    from topoexp.config.location import PACKAGE_DIR

    del root  # the run's root (its data and results) says nothing about the code's version
    return PACKAGE_DIR.parent


def provenance(root: Path | None = None) -> dict[str, Any]:
    """Code version (git commit, dirty tree of the package's repository), package versions, host
    and interpreter."""
    root = code_root(root)
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": _git(root, "rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "packages": versions,
        "python": sys.version.split()[0],
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "argv": sys.argv,
        "cpu_count": os.cpu_count(),
    }


class RunRecord:
    """Writes a run's ``status.json`` and ``provenance.json`` and keeps the heartbeat going."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.started = _now()
        self._status: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.provenance: dict[str, Any] = {}

    def start(self, root: Path, **facts: Any) -> None:
        """Mark the run ``running``, write provenance and start the heartbeat."""
        self.provenance = {**provenance(root), "started": self.started, **facts}
        io.write_json(self.run_dir / "provenance.json", self.provenance)
        self._write(
            {
                "status": "running",
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": self.started,
            }
        )
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._thread.start()

    def add_facts(self, **facts: Any) -> None:
        """Record more provenance (data sizes, parameter count, ...)."""
        self.provenance |= facts
        io.write_json(self.run_dir / "provenance.json", self.provenance)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with self._lock:
                if self._status.get("status") == "running":
                    self._write(self._status)

    def _write(self, status: dict[str, Any]) -> None:
        self._status = {**status, "heartbeat": _now()}
        io.write_json(self.run_dir / "status.json", self._status)

    def _end(self, status: dict[str, Any]) -> None:
        self._stop.set()
        ended = _now()
        duration = (
            dt.datetime.fromisoformat(ended) - dt.datetime.fromisoformat(self.started)
        ).total_seconds()
        with self._lock:
            self._write({**self._status, **status, "ended": ended, "duration_s": duration})
        if self.provenance:
            self.add_facts(ended=ended, duration_s=duration)

    def complete(self) -> None:
        self._end({"status": "completed"})

    def fail(self, error: BaseException) -> None:
        self._end(
            {
                "status": "failed",
                "error": f"{type(error).__name__}: {error}",
                "traceback": "".join(traceback.format_exception(error)),
            }
        )


def read_status(run_dir: Path) -> dict[str, Any]:
    """The run's ``status.json`` (empty when there is none)."""
    path = Path(run_dir) / "status.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_state(run_dir: Path, now: dt.datetime | None = None) -> str:
    """``completed``, ``failed``, ``running``, ``interrupted`` or ``missing`` (no status)."""
    status = read_status(run_dir)
    state = status.get("status")
    if state is None:
        return "missing"
    if state != "running":
        return state
    now = now or dt.datetime.now(dt.UTC)
    beat = status.get("heartbeat") or status.get("started")
    if beat is None or (now - dt.datetime.fromisoformat(beat)).total_seconds() > STALE_AFTER_S:
        return "interrupted"
    if status.get("host") == socket.gethostname() and not _alive(int(status.get("pid", -1))):
        return "interrupted"
    return "running"
