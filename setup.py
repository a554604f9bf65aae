"""Build hook: the wheel carries the repository's ``conf/`` as ``topoexp/conf``.

The configs stay at the repository root (where ``python -m topoexp`` and the tests read them);
``build_py`` copies them into the built package, and :mod:`topoexp.config.location` finds the
checkout's ``conf/`` when there is one and the packaged copy otherwise. Everything else about the
build is in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONF = Path(__file__).resolve().parent / "conf"


class BuildPyWithConf(build_py):
    """``build_py`` that also copies ``conf/`` into ``<build>/topoexp/conf`` (not when editable:
    an editable install runs from the checkout, whose ``conf/`` is found directly)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False) or not CONF.is_dir():
            return
        target = Path(self.build_lib) / "topoexp" / "conf"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(CONF, target, ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))


setup(cmdclass={"build_py": BuildPyWithConf})
