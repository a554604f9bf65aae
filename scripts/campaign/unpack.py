"""``unpack``: a campaign's archives back into ``multirun/``, checked, then its tables rebuilt.

Every archive's size and SHA-256 and every extracted file's SHA-256 are checked against
``campaign.json`` before anything is moved into place; an existing run directory is never
overwritten without ``force``. The TopoAE Table-1 experiments (``spheres/``, ``mnist/``,
``fmnist/``, ``cifar10/``) become run records beside the committed ones, in
``results/<data>/<campaign>/runs/``, which no report spec reads, so a campaign at another
budget never mixes into the committed tables (``tables="extend"``: they are added to the
committed records in ``results/<data>/runs/`` by ``scripts/extend_table1.py``, and the tables
rebuilt from them); then ``python -m topoexp.report`` rebuilds the report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from campaign.files import mib, read_json, sha256
from campaign.packing import PackingError, check_xz, extract

TABLE1_DATA = ("spheres", "mnist", "fmnist", "cifar10")
#: Rebuild hints for the other papers' experiments (their reports read a whole protocol).
REPORT_HINTS = {
    "homreg": "make report-homreg HOMREG_RUNS={runs} HOMREG_OUT=results/homreg/{name}",
    "corel": "make report-corel COREL_RUNS={runs}",
    "toplayer": "python -m topoexp.report.toplayer --runs {runs} --out <folder>",
    "study": "python -m topoexp.report.table1 --dataset <data> --runs {runs} --out <folder>",
}


class UnpackError(RuntimeError):
    """Archives that do not match their record, or run directories that would be overwritten."""


def verify(archive_dir: Path) -> dict[str, Any]:
    """``campaign.json`` of ``archive_dir``, once every archive it lists matches it."""
    path = archive_dir / "campaign.json"
    if not path.is_file():
        raise UnpackError(f"{path}: not found (the campaign record comes back beside its archives)")
    record = read_json(path)
    for archive in record.get("archives", []):
        file = archive_dir / archive["file"]
        if not file.is_file():
            raise UnpackError(f"{file}: listed in campaign.json but missing")
        if file.stat().st_size != archive["bytes"] or sha256(file) != archive["sha256"]:
            raise UnpackError(f"{file}: size or SHA-256 differs from campaign.json")
        check_xz(file)
    return record


def unpack(archive_dir: Path, into: Path, force: bool = False) -> dict[str, Any]:
    """Extract the archives of ``archive_dir`` into ``into``; returns the campaign record."""
    record = verify(archive_dir)
    runs = [run for archive in record.get("archives", []) for run in archive["runs"]]
    existing = [run for run in runs if (into / run).exists()]
    if existing and not force:
        raise UnpackError(
            f"refused: {len(existing)} run directories exist already under {into} "
            f"({', '.join(existing[:3])}{', ...' if len(existing) > 3 else ''}); "
            "--force replaces them"
        )
    staging = into / f".unpacking-{record['name']}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for archive in record.get("archives", []):
            try:
                names = extract(archive_dir / archive["file"], staging)
            except PackingError as error:
                raise UnpackError(str(error)) from error
            if sorted(names) != sorted(archive["files"]):
                raise UnpackError(f"{archive['file']}: its files differ from campaign.json's list")
            for name, digest in archive["files"].items():
                if sha256(staging / name) != digest:
                    raise UnpackError(f"{archive['file']}: {name} differs from its SHA-256")
        for run in runs:
            target = into / run
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / run, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return record


def summary(record: dict[str, Any], into: Path) -> str:
    """What came back: the counts, each run's outcome and where it now lies."""
    counts = record.get("summary") or {}
    lines = [
        f"campaign {record['name']}: "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        + f" (device {record.get('device')}, {record.get('elapsed_s', 0):.0f} s of a "
        f"{record.get('budget_s', 0):.0f} s budget)"
    ]
    for run in record["runs"]:
        seeds = ",".join(str(s) for s in run["seeds"])
        where = str(into / run["run_dir"]) if run.get("archive") else "not packed"
        detail = f"{run['duration_s']:.1f} s" if "duration_s" in run else run.get("reason", "")
        lines.append(f"  {run['status']:<11} {run['experiment']} seed {seeds}  {detail}  {where}")
        if run["status"] in ("failed", "timeout") and run.get("stderr_tail"):
            last = [line for line in run["stderr_tail"].splitlines() if line.strip()][-1:]
            lines.extend(f"              {line[:160]}" for line in last)
    if record.get("packing_error"):
        lines.append(f"  packing: {record['packing_error']}")
    archives = record.get("archives", [])
    lines.append(f"{len(archives)} archives, {mib(sum(a['bytes'] for a in archives))}")
    return "\n".join(lines)


def rebuild_tables(
    record: dict[str, Any],
    into: Path,
    repo: Path,
    results: Path,
    tables: str = "budget",
    report: bool = True,
    python: str = sys.executable,
) -> list[list[str]]:
    """Rebuild what the unpacked runs touch; returns the commands run."""
    runs = into / record["name"]
    done = [r for r in record["runs"] if r["status"] == "completed" and r.get("archive")]
    prefixes = sorted({r["experiment"].split("/")[0] for r in done})
    reference = repo / "results" / "reference" / "topoae_table1.csv"
    commands = []
    for data in (p for p in prefixes if p in TABLE1_DATA and tables != "none"):
        if tables == "extend":
            commands.append(
                [
                    python,
                    str(repo / "scripts" / "extend_table1.py"),
                    "--dataset",
                    data,
                    "--runs",
                    str(runs),
                    "--out",
                    str(results / data),
                    "--reference",
                    str(reference),
                ]
            )
        else:
            commands.append(
                [
                    python,
                    "-m",
                    "topoexp.report.table1",
                    "--dataset",
                    data,
                    "--runs",
                    str(runs),
                    "--out",
                    str(results / data / record["name"]),
                    "--reference",
                    str(reference),
                ]
            )
    if report:
        commands.append([python, "-m", "topoexp.report"])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
    }
    for command in commands:
        print("unpack: " + " ".join(command[1:]), flush=True)
        subprocess.run(command, cwd=repo, env=env, check=True)
    for prefix in prefixes:
        if prefix in REPORT_HINTS:
            hint = REPORT_HINTS[prefix].format(runs=runs, name=record["name"])
            print(f"unpack: {prefix} runs: rebuild their report with `{hint}`")
    return commands
