"""Shared fixtures: where the shared reference material and data sets live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    return Path(os.environ.get("TOPOEXP_SHARED", REPO_ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The folder of papers, specs, reference tables and data (``$TOPOEXP_SHARED``)."""
    path = _shared_dir()
    if not path.is_dir():
        pytest.skip(f"shared reference folder not found at {path}; set TOPOEXP_SHARED")
    return path


@pytest.fixture(scope="session")
def reference_dir(shared_dir: Path) -> Path:
    """The papers' tables and test vectors."""
    return shared_dir / "reference"
