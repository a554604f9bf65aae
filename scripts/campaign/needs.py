"""What one experiment needs: the Python distributions its job imports and its data sets.

Run with the project's interpreter, one experiment per process (``prepare`` does), never
imported by the runner::

    python scripts/campaign/needs.py --json OUT.json [--static] EXPERIMENT [-- key=value ...]

By default the experiment runs here at ``debug=smoke`` (any extra overrides after ``--``) and
the distributions are those owning a module the job loaded. When that run fails, or with
``--static``, they are read off instead: the modules of every ``_target_`` and the harness, then,
until nothing new appears, every module that a loaded ``topoexp`` module imports inside a
function (a superset: imports on use that the job may never reach). The data sets are the config
nodes that read under ``paths.data_dir``. Writes ``{"experiment", "mode", "error",
"distributions": {name: version}, "datasets": [...]}``.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.metadata as metadata
import json
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Imported on use by modules a job loads, but not by a job that logs nowhere (logger=none).
NOT_NEEDED = frozenset({"wandb"})
#: Modules Hydra imports at start-up besides the config's targets (the repository's plugin).
START_UP = ("topoexp.__main__", "topoexp.run", "hydra_plugins.topoexp_sweepers")


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def compose_job(experiment: str, extra: list[str]) -> dict[str, Any]:
    """The job config ``python -m topoexp +experiment=<experiment> logger=none`` composes."""
    from omegaconf import OmegaConf

    from topoexp.cli import compose_config

    cfg = compose_config([f"+experiment={experiment}", "logger=none", *extra])
    job = OmegaConf.to_container(cfg, resolve=False)
    job.pop("hydra", None)
    return job


def data_sets(job: dict[str, Any]) -> list[str]:
    """Data sets of the nodes that read files under ``paths.data_dir`` (``mnist_2`` → mnist)."""
    names = {
        node["name"].split("_")[0]
        for node in _walk(job)
        if "${paths.data_dir}" in str(node.get("root", "")) and isinstance(node.get("name"), str)
    }
    return sorted(names)


def _import_target(target: str) -> None:
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        try:
            importlib.import_module(".".join(parts[:end]))
            return
        except ImportError:
            continue


def _imports_in(path: Path) -> set[str]:
    """Absolute module names a source file imports anywhere (function bodies too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _import_closure() -> None:
    """Import what the loaded ``topoexp`` modules import on use, until nothing new appears."""
    scanned: set[str] = set()
    while True:
        own = {
            name: module
            for name, module in list(sys.modules.items())
            if name.split(".")[0] == "topoexp" and getattr(module, "__file__", None)
        }
        fresh = sorted(set(own) - scanned)
        if not fresh:
            return
        for name in fresh:
            scanned.add(name)
            for wanted in sorted(_imports_in(Path(own[name].__file__))):
                if wanted.split(".")[0] in NOT_NEEDED or wanted in sys.modules:
                    continue
                try:
                    importlib.import_module(wanted)
                except Exception:  # absent here: the job would skip it too
                    continue


def loaded_distributions() -> dict[str, str]:
    """Distributions owning a file of any loaded module: ``{name: version}``."""
    owners: dict[str, tuple[str, str]] = {}
    for dist in metadata.distributions():
        for file in dist.files or ():
            if file.suffix in (".py", ".so"):
                owners[str(Path(dist.locate_file(file)).resolve())] = (
                    dist.metadata["Name"],
                    dist.version,
                )
    found: dict[str, str] = {}
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        owner = owners.get(str(Path(file).resolve())) if file else None
        if owner:
            found[owner[0]] = owner[1]
    return found


def _smoke_run(experiment: str, extra: list[str]) -> str | None:
    """Run the experiment at ``debug=smoke`` here; ``None`` when it completed, else the error."""
    from topoexp.cli import main

    with tempfile.TemporaryDirectory(prefix="needs-") as run_dir:
        try:
            main(
                [
                    f"+experiment={experiment}",
                    "debug=smoke",
                    "logger=none",
                    *extra,
                    f"hydra.run.dir={run_dir}",
                ]
            )
        except SystemExit as stop:
            if stop.code not in (None, 0):
                return f"exit status {stop.code}"
        except Exception:
            return traceback.format_exc(limit=2)
        status = Path(run_dir, "status.json")
        state = json.loads(status.read_text()).get("status") if status.is_file() else None
        return None if state == "completed" else f"run status {state}"


def needs(experiment: str, extra: list[str], static: bool) -> dict[str, Any]:
    """What ``experiment`` needs (module docstring)."""
    datasets = data_sets(compose_job(experiment, extra))
    error = None if static else _smoke_run(experiment, extra)
    mode = "run" if not static and error is None else "static"
    if mode == "static":
        for name in START_UP:
            importlib.import_module(name)
        for node in _walk(compose_job(experiment, extra)):
            target = node.get("_target_")
            if isinstance(target, str):
                _import_target(target)
        _import_closure()
    return {
        "experiment": experiment,
        "mode": mode,
        "error": error,
        "distributions": loaded_distributions(),
        "datasets": datasets,
    }


def main(argv: list[str]) -> None:
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--static", action="store_true")
    args = parser.parse_args(argv)
    result = needs(args.experiment, extra, args.static)
    args.json.write_text(json.dumps(result, indent=1, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
