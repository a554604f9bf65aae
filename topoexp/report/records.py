"""Run records committed under ``results/<paper>/runs/<run>/``, and the one loader of them.

A record is a directory with ``config.yaml``, ``metrics.json``, ``status.json`` and
``provenance.json`` (what :mod:`topoexp.records` writes into a run directory) and, optionally,
the small arrays a table or figure needs (``*.npz``, ``*.csv``); never a checkpoint. Two kinds:

- **full**: copied from a run directory by :func:`export_run` (machine paths redacted); its
  provenance names the commit that ran the code (``git_commit``) and whether the tree was dirty
  (``git_dirty``);
- **converted**: made once from a committed table row, for runs whose directories were never
  committed; its provenance says where it came from (``source``) and gives a commit only where
  that source recorded one.

:func:`load_records` is the report's one loader: one row per completed record with the key
columns taken from the config (:data:`KEYS`, plus a table's own ``columns``), the metrics, and the
record's kind, commit, dirty flag and end time (:data:`META`).

    python -m topoexp.report.records --runs multirun/spheres --out results/spheres/runs \
        --arrays latents.npz --arrays-first-seed
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from topoexp import io
from topoexp.config.flatten import flatten
from topoexp.records import run_state

__all__ = [
    "CONVERTED",
    "FULL",
    "KEYS",
    "META",
    "RECORD_FILES",
    "export_run",
    "load_array",
    "load_records",
    "redact",
    "write_record",
]

RECORD_FILES = ("config.yaml", "metrics.json", "status.json", "provenance.json")
FULL, CONVERTED = "full", "converted"
#: Key columns of every record and the config key each is read from.
KEYS = {
    "method": "method",
    "dataset": "dataset.name",
    "seed": "seed",
    "experiment": "experiment",
    "max_epochs": "trainer.max_epochs",
}
#: What the loader adds about the record itself.
META = ("run", "record", "git_commit", "git_dirty", "ended")
PATH_NAMES = ("output_dir", "data_dir", "results_dir", "root_dir")  # the longest first


def redact(text: str, paths: Mapping[str, str]) -> str:
    """``text`` with the run's machine folders replaced by ``<output_dir>``, ``<sweep_dir>`` (the
    output folder's parent, a multirun's), ``<data_dir>``, ``<results_dir>``, ``<root_dir>`` (a
    committed record names no machine's paths)."""
    folders = {name: paths.get(name) for name in PATH_NAMES}
    if folders["output_dir"]:
        sweep = str(Path(folders["output_dir"]).parent)
        if sweep not in folders.values():
            folders = {"output_dir": folders["output_dir"], "sweep_dir": sweep} | folders
    for name, folder in folders.items():
        if folder and Path(folder).is_absolute() and str(folder) != "/":
            text = text.replace(str(folder), f"<{name}>")
    return text


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _experiment(record: Path, config: Mapping[str, Any]) -> str | None:
    """The ``+experiment=`` of the run (``overrides.yaml``), else the config's ``experiment``."""
    overrides = record / "overrides.yaml"
    if overrides.is_file():
        for item in yaml.safe_load(overrides.read_text()) or []:
            if str(item).lstrip("+").startswith("experiment="):
                return str(item).split("=", 1)[1]
    value = config.get("experiment")
    return None if value is None else str(value)


def _record_row(record: Path, columns: Mapping[str, str]) -> dict[str, Any]:
    config = yaml.safe_load((record / "config.yaml").read_text()) or {}
    flat = flatten(config)
    status = _read_json(record / "status.json")
    provenance = _read_json(record / "provenance.json")
    row: dict[str, Any] = {"run": record.name}
    for column, key in {**KEYS, **columns}.items():
        row[column] = flat.get(key)
    row["experiment"] = _experiment(record, config)
    row["record"] = CONVERTED if "source" in provenance else FULL
    row["git_commit"] = provenance.get("git_commit")
    row["git_dirty"] = provenance.get("git_dirty")
    row["ended"] = status.get("ended") or provenance.get("ended")
    return row


def _completed(directory: Path) -> tuple[list[Path], list[str]]:
    """The record directories below ``directory`` whose status is completed, and the others."""
    done, skipped = [], []
    for metrics in sorted(Path(directory).glob("*/metrics.json")):
        record = metrics.parent
        state = run_state(record)
        if state == "completed":
            done.append(record)
        else:
            skipped.append(f"{record.name} ({state})")
    return done, skipped


def load_records(directory: Path, columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per completed record below ``directory``: :data:`KEYS`, ``columns`` (a column →
    its dotted config key), every metric and :data:`META`. ``attrs["skipped"]`` lists the
    records left out (not completed)."""
    columns = dict(columns or {})
    done, skipped = _completed(directory)
    if not done:
        raise FileNotFoundError(f"no completed run records below {directory}")
    rows = []
    for record in done:
        row = _record_row(record, columns)
        metrics = json.loads((record / "metrics.json").read_text())
        rows.append(row | {k: v for k, v in metrics.items() if k not in row})
    frame = pd.DataFrame(rows)
    frame.attrs["skipped"] = skipped
    return frame


def load_array(
    directory: Path, name: str, columns: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The CSV array ``name`` of every completed record below ``directory``, one after another,
    each row with its record's key columns and :data:`META` in front."""
    columns = dict(columns or {})
    done, skipped = _completed(directory)
    parts = []
    for record in done:
        if not (record / name).is_file():
            continue
        array = pd.read_csv(record / name)
        keys = {k: v for k, v in _record_row(record, columns).items() if k not in array}
        parts.append(pd.concat([pd.DataFrame([keys] * len(array)), array], axis=1))
    if not parts:
        raise FileNotFoundError(f"no completed run record below {directory} has {name}")
    frame = pd.concat(parts, ignore_index=True)
    frame.attrs["skipped"] = skipped
    return frame


def write_record(
    record: Path,
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    status: Mapping[str, Any],
    provenance: Mapping[str, Any],
) -> Path:
    """Write one record's four files into ``record``."""
    record.mkdir(parents=True, exist_ok=True)
    io.write_text(
        record / "config.yaml", yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True)
    )
    io.write_json(record / "metrics.json", dict(metrics))
    io.write_json(record / "status.json", dict(status))
    io.write_json(record / "provenance.json", dict(provenance))
    return record


def _name(pattern: str, config: Mapping[str, Any]) -> str:
    flat = flatten(dict(config))

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in flat:
            raise KeyError(f"record name {pattern!r}: the config has no {key!r}")
        item = flat[key]
        return f"{item:g}" if isinstance(item, float) else str(item)

    return re.sub(r"\{([\w.]+)\}", value, pattern)


def export_run(
    run_dir: Path, out_dir: Path, name: str = "{method}_{seed}", arrays: Sequence[str] = ()
) -> Path:
    """Copy ``run_dir``'s record (the four files, its ``overrides.yaml`` and ``arrays``) into
    ``out_dir/<name>`` with the machine's paths redacted; ``name`` formats config keys."""
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    record = out_dir / _name(name, config)
    record.mkdir(parents=True, exist_ok=True)
    paths = config.get("paths") or {}
    overrides = run_dir / ".hydra" / "overrides.yaml"
    texts = [(run_dir / f, f) for f in RECORD_FILES] + [(overrides, "overrides.yaml")]
    for source, target in texts:
        if source.is_file():
            io.write_text(record / target, redact(source.read_text(), paths))
    for array in arrays:
        if (run_dir / array).is_file():
            shutil.copyfile(run_dir / array, record / array)
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Copy run records into results/<paper>/runs/.")
    parser.add_argument("--runs", type=Path, required=True, help="a multirun or run folder")
    parser.add_argument("--out", type=Path, required=True, help="results/<paper>/runs")
    parser.add_argument("--name", default="{method}_{seed}", help="record name (config keys)")
    parser.add_argument("--arrays", nargs="*", default=[], help="small arrays to keep")
    parser.add_argument(
        "--arrays-first-seed",
        action="store_true",
        help="keep the arrays of each method's first seed only",
    )
    args = parser.parse_args(argv)
    runs = sorted(p.parent for p in args.runs.rglob("metrics.json"))
    completed = [r for r in runs if run_state(r) == "completed"]
    for run in sorted(set(runs) - set(completed)):
        print(f"skipping {run_state(run)} run {run}", file=sys.stderr)
    first: dict[str, Any] = {}
    for run in completed:
        config = yaml.safe_load((run / "config.yaml").read_text())
        seed = config.get("seed")
        method = str(config.get("method"))
        if method not in first or seed < first[method]:
            first[method] = seed
    for run in completed:
        config = yaml.safe_load((run / "config.yaml").read_text())
        keep = not args.arrays_first_seed or config.get("seed") == first[str(config.get("method"))]
        record = export_run(run, args.out, args.name, args.arrays if keep else ())
        print(record)


if __name__ == "__main__":
    main()
