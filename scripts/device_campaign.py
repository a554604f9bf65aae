"""Run a campaign of experiments on a GPU machine reached through one command, and bring it back.

The machine has no network and no registry: what the jobs import beyond its image travels as
wheels, the data sets as their official compressed files, and the results come back as at most
seven ``.tar.xz`` archives of 16 MiB and ``campaign.json``::

    python scripts/device_campaign.py prepare --experiments mnist/ae,mnist/topoae --data mnist
    python scripts/device_campaign.py plan --experiments mnist/ae,mnist/topoae --seeds 0,1
    # give the printed command to the machine (carry: .device), then, with its files here:
    python scripts/device_campaign.py unpack <folder of campaign.json> --into multirun

``run`` is what the printed command runs there (it also runs on a CPU, as a rehearsal).
Subcommands: ``prepare``, ``plan``, ``run``, ``unpack``; ``--help`` after one lists its options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from campaign.limits import CARRY_DIR, TREE_LIMIT, MiB

REPO = Path(__file__).resolve().parents[1]


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _seeds(text: str) -> list[int]:
    return [int(s) for s in _list(text)]


def _data_root(value: Path | None) -> Path:
    if value is not None:
        return value
    return Path(os.environ.get("TOPOEXP_DATA_DIR", REPO / "data"))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--experiments", type=_list, required=True, help="a,b,... (conf/experiment)"
    )
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an override for every job (repeatable)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="fill the carry folder: wheels, data, manifest")
    _common(p)
    p.add_argument(
        "--data", type=_list, default=None, help="mnist,fmnist or none; default: what the jobs read"
    )
    p.add_argument(
        "--data-root", type=Path, default=None, help="default: $TOPOEXP_DATA_DIR or data/"
    )
    p.add_argument("--dir", type=Path, default=REPO / CARRY_DIR, help="the carry folder")
    p.add_argument("--no-wheels", action="store_true", help="carry data only (no pip, no trace)")
    p.add_argument(
        "--static",
        action="store_true",
        help="imports read off the code, not a smoke run (a superset)",
    )
    p.add_argument("--skip-wheel", action="append", default=[], metavar="NAME")
    p.add_argument(
        "--limit-mib",
        type=float,
        default=TREE_LIMIT / MiB,
        help="one device call's tree, all included",
    )

    p = sub.add_parser("plan", help="print the device command line (checked: 2,000 characters)")
    _common(p)
    p.add_argument("--seeds", type=_seeds, required=True)
    p.add_argument("--timeout-s", type=int, default=600, help="the device call's timeout_s")
    p.add_argument("--budget-s", type=float, default=None, help="default: timeout less 60 s")
    p.add_argument("--device", default="cuda")
    p.add_argument("--name", default=None)
    p.add_argument("--dir", type=Path, default=REPO / CARRY_DIR, help="the carry folder")
    p.add_argument("--ensemble", action="store_true")
    p.add_argument("--keep-checkpoints", action="store_true")

    p = sub.add_parser("run", help="run the jobs within a budget and pack them into --out")
    _common(p)
    p.add_argument("--seeds", type=_seeds, required=True)
    p.add_argument("--budget-s", type=float, required=True, help="the whole run, packing included")
    p.add_argument("--out", type=Path, required=True, help="where the archives go ($OUT)")
    p.add_argument("--device", default="cpu", help="trainer.device (cuda on the GPU machine)")
    p.add_argument("--runs", type=Path, default=REPO / "multirun", help="the run directories' root")
    p.add_argument("--name", default=None, help="the campaign's folder (default device-<time>)")
    p.add_argument("--carried", type=Path, default=None, help="the prepared folder (its data)")
    p.add_argument(
        "--data-root", type=Path, default=None, help="default: $TOPOEXP_DATA_DIR or data/"
    )
    p.add_argument("--ensemble", action="store_true", help="the seeds as one trainer.ensemble run")
    p.add_argument("--keep-checkpoints", action="store_true")
    p.add_argument("--reserve-s", type=float, default=30.0, help="of the budget, for the packing")
    p.add_argument("--archive-mib", type=float, default=16.0, help="the largest archive")
    p.add_argument("--max-file-mib", type=float, default=8.0, help="larger files stay behind")

    p = sub.add_parser("unpack", help="check and extract the archives, rebuild the tables")
    p.add_argument("archives", type=Path, help="the folder holding campaign.json and runs-*.tar.xz")
    p.add_argument("--into", type=Path, default=REPO / "multirun")
    p.add_argument("--force", action="store_true", help="replace existing run directories")
    p.add_argument("--results", type=Path, default=REPO / "results")
    p.add_argument(
        "--tables",
        choices=("budget", "extend", "none"),
        default="budget",
        help="Table-1 runs: a table in results/<data>/<campaign> (budget), added to "
        "the committed one (extend), or none",
    )
    p.add_argument("--no-report", action="store_true", help="skip python -m topoexp.report")
    return parser


def _prepare(args: argparse.Namespace) -> int:
    from campaign.prepare import PrepareError, prepare

    datasets = None if args.data is None else [d for d in args.data if d != "none"]
    try:
        prepare(
            repo=REPO,
            experiments=args.experiments,
            datasets=datasets,
            data_root=_data_root(args.data_root),
            out_dir=args.dir,
            wheels=not args.no_wheels,
            static=args.static,
            extra=args.extra,
            skip_wheels=args.skip_wheel,
            limit=int(args.limit_mib * MiB),
        )
    except PrepareError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"prepare: ready in {args.dir} (name it in the device call's carry)")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from campaign.plan import PlanError, carried_wheels, check_budget, device_command

    budget = args.budget_s if args.budget_s is not None else args.timeout_s - 60
    wheels = carried_wheels(args.dir)
    carried = os.path.relpath(args.dir, REPO)
    try:
        check_budget(budget, args.timeout_s)
        line = device_command(
            experiments=args.experiments,
            seeds=args.seeds,
            budget_s=budget,
            device=args.device,
            extra=args.extra,
            name=args.name,
            carried=carried,
            wheels=wheels is not False,
            ensemble=args.ensemble,
            keep_checkpoints=args.keep_checkpoints,
        )
    except PlanError as error:
        print(f"plan: {error}", file=sys.stderr)
        return 2
    if wheels is None:
        print(f"plan: warning: {args.dir} is not prepared (run prepare first)", file=sys.stderr)
    print(f'carry: ["{carried}"]\ntimeout_s: {args.timeout_s}')
    print(f"command ({len(line)} of 2000 characters):\n{line}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from campaign.runner import CampaignError, Options, campaign

    name = args.name or dt.datetime.now(dt.UTC).strftime("device-%Y%m%d-%H%M%S")
    opts = Options(
        experiments=args.experiments,
        seeds=args.seeds,
        budget_s=args.budget_s,
        out=args.out,
        runs=args.runs,
        name=name,
        repo=REPO,
        device=args.device,
        extra=args.extra,
        ensemble=args.ensemble,
        keep_checkpoints=args.keep_checkpoints,
        carried=args.carried,
        data_root=_data_root(args.data_root),
        reserve_s=args.reserve_s,
        max_file=int(args.max_file_mib * MiB),
        archive_limit=int(args.archive_mib * MiB),
    )
    try:
        return campaign(opts)
    except CampaignError as error:
        print(f"run: {error}", file=sys.stderr)
        return 2


def _unpack(args: argparse.Namespace) -> int:
    from campaign.unpack import UnpackError, rebuild_tables, summary, unpack

    try:
        record = unpack(args.archives, args.into, force=args.force)
    except UnpackError as error:
        print(f"unpack: {error}", file=sys.stderr)
        return 2
    print(summary(record, args.into))
    try:
        rebuild_tables(record, args.into, REPO, args.results, args.tables, not args.no_report)
    except subprocess.CalledProcessError as error:
        print(f"unpack: the runs are in place, but {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return {"prepare": _prepare, "plan": _plan, "run": _run, "unpack": _unpack}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
