"""``run``: every experiment × seed within a time budget, then everything packed into ``--out``.

Meant for the device machine (standard library only; the carried wheels are installed by the
command line before it, see ``plan``), and runs the same on a CPU. Each job is
``python -m topoexp +experiment=<name> seed=<s> trainer.device=<d> logger=none ...`` with its
run directory at ``<runs>/<campaign>/<experiment>/<seed>``, jobs in seed-major order (every
experiment's first seed before any second one). A job is not started when the first run of the
same experiment took longer than the time left; a running job is stopped at the deadline.
``campaign.json`` in ``--out`` is rewritten after every job, and the packing runs at the end,
after a failure, and on SIGTERM, SIGINT, SIGHUP or SIGALRM (the alarm is set to the budget).
"""

from __future__ import annotations

import datetime as dt
import gzip
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from campaign.files import mib, read_json, sha256, write_json
from campaign.limits import FILE_LIMIT, MAX_ARCHIVES
from campaign.packing import PackingError, Unit, pack, select_files

STDERR_TAIL = 3000
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM)
#: The budget's clock (a test can replace it).
clock = time.monotonic


class Stop(Exception):
    """A stop signal arrived: pack what finished."""


class CampaignError(RuntimeError):
    """A campaign that cannot start (bad options, an ensemble the trainer lacks)."""


@dataclass
class Options:
    experiments: list[str]
    seeds: list[int]
    budget_s: float
    out: Path
    runs: Path
    name: str
    repo: Path
    device: str = "cpu"
    extra: list[str] = field(default_factory=list)
    ensemble: bool = False
    keep_checkpoints: bool = False
    carried: Path | None = None
    data_root: Path | None = None
    reserve_s: float = 30.0
    max_file: int = 8 << 20
    archive_limit: int = FILE_LIMIT
    max_archives: int = MAX_ARCHIVES
    python: str = sys.executable


@dataclass
class Job:
    experiment: str
    seeds: list[int]
    run_dir: str  # below the runs root
    record: dict[str, Any] = field(default_factory=dict)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _on_signal(signum: int, frame: Any) -> None:
    raise Stop(signal.Signals(signum).name)


def _ignore_signal(signum: int, frame: Any) -> None:
    print(f"run: {signal.Signals(signum).name} while packing: finishing the packing", flush=True)


# ---------------------------------------------------------------------------------- the jobs


def trainer_keys(opts: Options, experiment: str) -> set[str]:
    """Keys of the composed ``trainer`` node (``--cfg job``); raises with Hydra's message."""
    done = subprocess.run(
        [
            opts.python,
            "-m",
            "topoexp",
            f"+experiment={experiment}",
            "logger=none",
            *opts.extra,
            "--cfg",
            "job",
        ],
        cwd=opts.repo,
        env=_env(opts),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise CampaignError(done.stderr.strip()[-STDERR_TAIL:] or f"exit {done.returncode}")
    keys: set[str] = set()
    inside = False
    for line in done.stdout.splitlines():
        if not line.startswith(" "):
            inside = line.startswith("trainer:")
        elif inside and line.startswith("  ") and not line.startswith("   "):
            keys.add(line.strip().split(":")[0])
    return keys


def jobs(opts: Options) -> list[Job]:
    """The campaign's jobs in running order (seed-major; one per experiment as an ensemble)."""
    if opts.ensemble:
        tag = "ensemble-" + "-".join(str(s) for s in opts.seeds)
        return [Job(e, list(opts.seeds), f"{opts.name}/{e}/{tag}") for e in opts.experiments]
    return [Job(e, [s], f"{opts.name}/{e}/{s}") for s in opts.seeds for e in opts.experiments]


def command(opts: Options, job: Job, keys: set[str]) -> list[str]:
    """The ``python -m topoexp`` command of ``job``."""
    overrides = [f"+experiment={job.experiment}", f"seed={job.seeds[0]}", "logger=none"]
    if "device" in keys:
        overrides.append(f"trainer.device={opts.device}")
    if "progress" in keys:
        overrides.append("trainer.progress=false")
    if opts.ensemble:
        overrides.append("trainer.ensemble=[" + ",".join(str(s) for s in job.seeds) + "]")
    run_dir = (opts.runs / job.run_dir).resolve()
    return [opts.python, "-m", "topoexp", *overrides, *opts.extra, f"hydra.run.dir={run_dir}"]


def _env(opts: Options) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(opts.repo), env.get("PYTHONPATH")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if opts.data_root is not None:
        env["TOPOEXP_DATA_DIR"] = str(opts.data_root.resolve())
    return env


def _tail(path: Path) -> str:
    text = path.read_text(errors="replace") if path.is_file() else ""
    return text[-STDERR_TAIL:]


def _stop_group(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def execute(opts: Options, job: Job, argv: list[str], timeout: float) -> None:
    """Run one job into its directory; its outcome into ``job.record``."""
    run_dir = opts.runs / job.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    started = clock()
    job.record.update(status="running", started=_now(), command=" ".join(argv[1:]))
    stdout, stderr = run_dir / "stdout.log", run_dir / "stderr.log"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(
            argv, cwd=opts.repo, env=_env(opts), stdout=out, stderr=err, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=max(timeout, 0.1))
            state = "completed" if returncode == 0 else "failed"
        except subprocess.TimeoutExpired:
            _stop_group(process)
            returncode, state = process.returncode, "timeout"
        except BaseException:
            _stop_group(process)
            job.record.update(status="interrupted", returncode=process.returncode)
            job.record["duration_s"] = round(clock() - started, 2)
            raise
    status_file = run_dir / "status.json"
    run_status = read_json(status_file).get("status") if status_file.is_file() else None
    if state == "completed" and run_status not in (None, "completed"):
        state = "failed"
    job.record.update(status=state, returncode=returncode, run_status=run_status)
    job.record["duration_s"] = round(clock() - started, 2)
    if state != "completed":
        job.record["stderr_tail"] = _tail(stderr)
    if state == "timeout":
        job.record["reason"] = f"stopped at the budget's deadline after {timeout:.0f} s"


# ------------------------------------------------------------------------------------- data


def place_data(carried: Path, data_root: Path) -> list[dict[str, Any]]:
    """Decompress the carried data files where the loaders look (``<data root>/<Folder>/raw``);
    a file already there with the same digest is kept."""
    manifest = read_json(carried / "manifest.json")
    placed = []
    for entry in manifest["files"]:
        source = carried / entry["file"]
        if not source.is_file() or source.stat().st_size != entry["bytes"]:
            raise CampaignError(f"{source}: missing or not the prepared size")
        if sha256(source) != entry["sha256"]:
            raise CampaignError(f"{source}: SHA-256 differs from the manifest")
        if "target" not in entry:
            continue  # a wheel: installed by the command line, not here
        target = data_root / entry["target"]
        if not (target.is_file() and target.stat().st_size == entry["raw_bytes"]):
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            with gzip.open(source, "rb") as f, open(partial, "wb") as o:
                shutil.copyfileobj(f, o, 1 << 20)
            os.replace(partial, target)
        if sha256(target) != entry["raw_sha256"]:
            raise CampaignError(f"{target}: SHA-256 differs from the official file's")
        placed.append(entry["target"])
    return placed


# ---------------------------------------------------------------------------------- packing


def pack_runs(opts: Options, all_jobs: list[Job], record: dict[str, Any]) -> None:
    """The run directories into archives in ``--out`` (completed runs first)."""
    order = {"completed": 0, "failed": 1, "timeout": 1, "interrupted": 2}
    units: list[Unit] = []
    for job in sorted(all_jobs, key=lambda j: order.get(j.record.get("status"), 3)):
        run_dir = opts.runs / job.run_dir
        if not run_dir.is_dir():
            continue
        files, left_out = select_files(run_dir, opts.keep_checkpoints, opts.max_file)
        units.append(Unit(job.run_dir, files, left_out))
        job.record["left_out"] = left_out
    for old in opts.out.glob("runs-*.tar.xz"):
        old.unlink()
    archives, dropped = pack(opts.runs, units, opts.out, opts.archive_limit, opts.max_archives)
    record["archives"] = archives
    where = {run: a["file"] for a in archives for run in a["runs"]}
    for job in all_jobs:
        job.record["archive"] = where.get(job.run_dir)
    if dropped:
        sizes = ", ".join(f"{u.name} ({mib(u.size)})" for u in dropped)
        record["packing_error"] = (
            f"{len(dropped)} run directories did not fit {opts.max_archives} archives of "
            f"{mib(opts.archive_limit)}: {sizes}"
        )
        raise PackingError(record["packing_error"])


# ------------------------------------------------------------------------------- the campaign


def _summary(all_jobs: list[Job]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for job in all_jobs:
        counts[job.record["status"]] = counts.get(job.record["status"], 0) + 1
    return counts


def campaign(opts: Options) -> int:
    """Run the campaign (module docstring); the exit status: 0 all completed and packed, 1 some
    job not completed, 3 the packing refused some run directories, 128 + n after signal n."""
    begun = clock()
    deadline = begun + opts.budget_s - opts.reserve_s
    if (opts.runs / opts.name).exists():
        raise CampaignError(f"{opts.runs / opts.name} exists: give the campaign another --name")
    opts.out.mkdir(parents=True, exist_ok=True)
    all_jobs = jobs(opts)
    for job in all_jobs:
        job.record.update(experiment=job.experiment, seeds=job.seeds, run_dir=job.run_dir)
        job.record["status"] = "pending"
    record: dict[str, Any] = {
        "name": opts.name,
        "started": _now(),
        "budget_s": opts.budget_s,
        "reserve_s": opts.reserve_s,
        "device": opts.device,
        "ensemble": opts.ensemble,
        "experiments": opts.experiments,
        "seeds": opts.seeds,
        "extra": opts.extra,
        "host": platform.node(),
        "python": platform.python_version(),
        "runs": [job.record for job in all_jobs],
    }
    path = opts.out / "campaign.json"
    previous = {s: signal.signal(s, _on_signal) for s in STOP_SIGNALS}
    signal.alarm(max(1, math.ceil(opts.budget_s)))
    code, stopped = 0, None
    try:
        keys = _inspect(opts, all_jobs)
        if opts.carried is not None:
            record["data"] = place_data(opts.carried, opts.data_root or opts.repo / "data")
        write_json(path, record)
        estimates: dict[str, float] = {}
        for number, job in enumerate(all_jobs, 1):
            if job.record["status"] != "pending":
                continue
            left = deadline - clock()
            estimate = estimates.get(job.experiment)
            if left <= 1 or (estimate is not None and estimate > left):
                job.record.update(status="skipped", reason=_budget_reason(estimate, left))
            else:
                execute(opts, job, command(opts, job, keys[job.experiment]), left)
                if job.experiment not in estimates and job.record["status"] in (
                    "completed",
                    "timeout",
                ):
                    estimates[job.experiment] = (
                        math.inf if job.record["status"] == "timeout" else job.record["duration_s"]
                    )
            _report(number, len(all_jobs), job)
            write_json(path, record)
    except CampaignError as error:
        record["error"] = str(error)
        for job in all_jobs:
            if job.record["status"] == "pending":
                job.record.update(status="skipped", reason="the campaign could not start")
        raise
    except Stop as stop:
        stopped = stop.args[0]
        print(f"run: {stopped}: packing what finished", flush=True)
        for job in all_jobs:
            if job.record["status"] in ("pending", "running"):
                job.record.update(status="skipped", reason=f"not started: {stopped}")
    finally:
        signal.alarm(0)
        for s in STOP_SIGNALS:
            signal.signal(s, _ignore_signal)
        try:
            pack_runs(opts, all_jobs, record)
        except PackingError as error:
            print(f"run: packing refused: {error}", file=sys.stderr, flush=True)
            code = 3
        finally:
            record["ended"] = _now()
            record["elapsed_s"] = round(clock() - begun, 2)
            record["summary"] = _summary(all_jobs)
            record["stopped_by"] = stopped
            write_json(path, record)
            for s, handler in previous.items():
                signal.signal(s, handler)
    print(f"run: {record['summary']} in {record['elapsed_s']:.0f} s; archives in {opts.out}:")
    for archive in record.get("archives", []):
        print(f"  {archive['file']}: {mib(archive['bytes'])}, {len(archive['runs'])} runs")
    if stopped:
        return 128 + signal.Signals[stopped].value
    if code:
        return code
    return 0 if set(record["summary"]) == {"completed"} else 1


def _inspect(opts: Options, all_jobs: list[Job]) -> dict[str, set[str]]:
    """Each experiment's trainer keys; a config error fails its jobs without running them."""
    keys: dict[str, set[str]] = {}
    for experiment in opts.experiments:
        try:
            keys[experiment] = trainer_keys(opts, experiment)
        except CampaignError as error:
            keys[experiment] = set()
            for job in all_jobs:
                if job.experiment == experiment:
                    job.record.update(status="failed", reason="config", stderr_tail=str(error))
            continue
        if opts.ensemble and "ensemble" not in keys[experiment]:
            raise CampaignError(
                f"--ensemble: {experiment}'s trainer has no `trainer.ensemble` option in this "
                "checkout, so its seeds cannot run as one ensemble; run without --ensemble "
                "(one run per seed)"
            )
    return keys


def _budget_reason(estimate: float | None, left: float) -> str:
    if estimate is None:
        return f"budget: {max(left, 0):.0f} s left"
    if math.isinf(estimate):
        return "budget: this experiment's first run did not finish within the budget"
    return f"budget: its first run took {estimate:.0f} s, {max(left, 0):.0f} s left"


def _report(number: int, total: int, job: Job) -> None:
    r = job.record
    seeds = ",".join(str(s) for s in job.seeds)
    detail = f"in {r['duration_s']:.1f} s" if "duration_s" in r else r.get("reason", "")
    print(f"[{number}/{total}] {job.experiment} seed {seeds}: {r['status']} {detail}", flush=True)
