"""Start-up time of the command line: ``--help`` and ``--cfg job`` against bare peers.

Each command runs ``--repeat`` times in a fresh interpreter; the median wall time is reported with
its ratio to the peers measured in the same run: a bare interpreter (``python -c pass``) and
``python -c "import torch"`` (what the command used to import before answering). Target: both
commands ≤ 2 s.

    python benchmarks/bench_cli.py --json results/bench/cli.json
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from topoexp import io

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "help": [sys.executable, "-m", "topoexp", "--help"],
    "cfg_job": [sys.executable, "-m", "topoexp", "--cfg", "job"],
    "peer_python": [sys.executable, "-c", "pass"],
    "peer_import_torch": [sys.executable, "-c", "import torch"],
}


def wall_time(command: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    wall_time(COMMANDS["help"], 1)  # warm the file cache (and numba's / Python's caches)
    results = {name: wall_time(cmd, args.repeat) for name, cmd in COMMANDS.items()}
    medians = {name: statistics.median(t) for name, t in results.items()}
    out = {
        "repeat": args.repeat,
        "median_s": medians,
        "help_over_python": medians["help"] / medians["peer_python"],
        "help_over_import_torch": medians["help"] / medians["peer_import_torch"],
        "cfg_job_over_import_torch": medians["cfg_job"] / medians["peer_import_torch"],
        "target_met": medians["help"] <= 2.0 and medians["cfg_job"] <= 2.0,
    }
    for name, value in medians.items():
        print(f"{name:18s} {value:6.2f} s")
    print(f"--help / import torch: {out['help_over_import_torch']:.2f}×; target ≤ 2 s met: "
          f"{out['target_met']}")  # fmt: skip
    if args.json:
        io.write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
