"""Resuming a run safely: the stored config must match, or the differences are allowed and kept.

``trainer.resume=true`` continues the run in ``hydra.run.dir`` from its last checkpoint. Before
anything is overwritten, the stored ``config.yaml`` is compared with the new config: any key that
differs, other than those a resume may change (:data:`ALWAYS_ALLOWED`) and those listed in
``trainer.resume_allow``, stops the run with an error naming the keys. Every difference that was
allowed is appended to ``resumes.json`` with the time, so the record shows what changed.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from topoexp import io
from topoexp.config.flatten import differences

__all__ = ["ALWAYS_ALLOWED", "ResumeMismatchError", "check_resume"]

#: Keys (or key prefixes) a resume may change without being asked.
ALWAYS_ALLOWED = (
    "trainer.resume",
    "trainer.resume_allow",
    "trainer.max_epochs",
    "trainer.progress",
    "trainer.batches",  # memory and loader give the same batches in the same order
    "logger",
    "paths",
)


class ResumeMismatchError(ValueError):
    """The config of a resumed run differs from the stored one in keys not allowed to change."""

    def __init__(self, differences: dict[str, tuple[Any, Any]]) -> None:
        listed = ", ".join(f"{k} ({a!r} → {b!r})" for k, (a, b) in differences.items())
        super().__init__(
            f"trainer.resume=true but the config differs from the stored config.yaml at: {listed}. "
            "Resume with the stored values, or allow the change explicitly with "
            f"trainer.resume_allow=[{','.join(differences)}] (recorded in resumes.json)"
        )
        self.keys = list(differences)


def _allowed(key: str, allowed: list[str]) -> bool:
    return any(key == prefix or key.startswith(prefix + ".") for prefix in allowed)


def check_resume(cfg: DictConfig, output_dir: Path) -> None:
    """Raise :class:`ResumeMismatchError` if resuming would silently change the run."""
    trainer = cfg.get("trainer")
    if not (trainer is not None and trainer.get("resume", False)):
        return
    stored = output_dir / "config.yaml"
    if not stored.exists():
        raise FileNotFoundError(
            f"trainer.resume=true but {output_dir} holds no run to resume (no config.yaml, no "
            "checkpoints/last.pt); point hydra.run.dir at the directory of the run to resume"
        )
    old = yaml.safe_load(stored.read_text())
    new = OmegaConf.to_container(cfg, resolve=True)
    allowed = [*ALWAYS_ALLOWED, *trainer.get("resume_allow", [])]
    changed = differences(old, new)
    refused = {k: v for k, v in changed.items() if not _allowed(k, allowed)}
    if refused:
        raise ResumeMismatchError(refused)
    log_file = output_dir / "resumes.json"
    history = json.loads(log_file.read_text()) if log_file.exists() else []
    history.append(
        {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "changed": {k: {"stored": a, "now": b} for k, (a, b) in changed.items()},
        }
    )
    io.write_json(log_file, history)
