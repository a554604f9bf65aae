"""Where the configs and the project's repository are, wherever the command is run.

A checkout runs from its own ``conf/`` (beside the ``topoexp`` package), so edits there take
effect at once; an installed wheel carries a copy as ``topoexp/conf`` (``setup.py`` puts it
there at build time) and runs from that.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PACKAGE_DIR", "checkout_root", "conf_dir"]

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def checkout_root() -> Path | None:
    """The repository this package runs from (``None`` for an installed wheel)."""
    root = PACKAGE_DIR.parent
    return root if (root / "conf" / "config.yaml").is_file() else None


def conf_dir() -> Path:
    """The checkout's ``conf/`` when there is one, else the copy packaged with the wheel."""
    root = checkout_root()
    return root / "conf" if root is not None else PACKAGE_DIR / "conf"
