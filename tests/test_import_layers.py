"""Package layering: evaluators and losses do not import each other; shared code is in topology/.

Each module of ``evaluation/``, ``losses/`` and ``topology/`` also imports on its own (a fresh
``topoexp`` each time), which an import cycle between them would break.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "topoexp"

#: Known crossings, to be removed with their cause: COREL's toy training routine lives in
#: ``losses/`` and reports the death-time statistics of ``evaluation/``.
ALLOWED = {("losses/connectivity_toy.py", "topoexp.evaluation.death_times")}


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module imported anywhere in the file (functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                package = path.relative_to(ROOT.parent).parent.parts
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def crossings(src: str, dst: str) -> set[tuple[str, str]]:
    """``(file, imported name)`` for the imports of ``topoexp.<dst>`` by files of ``<src>/``."""
    return {
        (str(path.relative_to(ROOT)), name)
        for path in sorted((ROOT / src).rglob("*.py"))
        for name in imported_modules(path)
        if within(name, f"topoexp.{dst}")
    }


def test_evaluation_does_not_import_losses():
    assert crossings("evaluation", "losses") == set()


def test_losses_do_not_import_evaluation_beyond_the_known_crossing():
    found = crossings("losses", "evaluation")
    unexpected = {(f, n) for f, n in found if not any(f == a and within(n, m) for a, m in ALLOWED)}
    assert unexpected == set()
    assert found >= ALLOWED, "a known crossing is gone: remove it from ALLOWED"


def test_topology_imports_neither():
    assert crossings("topology", "losses") | crossings("topology", "evaluation") == set()


def test_the_check_sees_an_import(tmp_path):
    assert "topoexp.topology.deaths" in imported_modules(ROOT / "evaluation" / "latents.py")
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from topoexp.losses import connectivity\n")
    assert "topoexp.losses.connectivity" in imported_modules(source)


MODULES = sorted(
    ".".join(p.relative_to(ROOT.parent).with_suffix("").parts)
    for pkg in ("evaluation", "losses", "topology")
    for p in (ROOT / pkg).glob("*.py")
)


@pytest.fixture
def fresh_topoexp():
    """Unload every ``topoexp`` module for the test and put the originals back afterwards."""
    saved = {k: v for k, v in sys.modules.items() if k == "topoexp" or k.startswith("topoexp.")}
    for k in saved:
        del sys.modules[k]
    yield
    for k in [k for k in sys.modules if k == "topoexp" or k.startswith("topoexp.")]:
        del sys.modules[k]
    sys.modules.update(saved)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone(module, fresh_topoexp):
    importlib.import_module(module)
