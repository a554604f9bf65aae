"""Each paper's full protocol timed on the device: one ensemble epoch of its experiments.

    python benchmarks/bench_device_protocols.py [--device cuda] [--members 5] [--json PATH]

For each protocol one representative experiment runs as ``python -m topoexp`` would, as a
``trainer.ensemble`` of ``--members`` seeds for two epochs (the first carries the warm-up), with
its evaluation. The second epoch's time (``time/epoch_s`` of the history, shared by the
members) × the protocol's epochs × its trained experiments × seeds ÷ members is the protocol's
estimated training time on this device; the targets (one H200) are TopoAE images ≤ 8 min,
COREL's offline backbones ≤ 8 min, homological regularisation ≤ 5 min. The FLOP count of
``protocol_flops.py`` for the same protocol gives the rate reached. ``--tiny`` rehearses the
script on the CPU in seconds (SPHERES, tiny sizes, no targets): ``tests/test_device_protocols.py``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from topoexp.cli import run_experiment
from topoexp.io import write_json


@dataclass(frozen=True)
class Protocol:
    name: str
    experiment: str
    epochs: int
    runs: int  # trained experiments × seeds of the whole protocol
    target_min: float | None
    overrides: tuple[str, ...] = ()


PROTOCOLS = (
    Protocol("topoae_images", "mnist/topoae", 100, 6 * 5, 8.0, ("evaluator.plot=false",)),
    Protocol("corel_offline", "corel/offline/mnist", 50, 5 * 1, 8.0),
    Protocol("homreg", "homreg/mnist/ae_reg_5", 100, 27 * 5, 5.0, ("task.n_samples=2000",)),
)
TINY = (
    Protocol(
        "spheres_rehearsal",
        "spheres/topoae",
        100,
        5,
        None,
        (
            "dataset.n_samples=20",
            "dataset.d=10",
            "trainer.batch_size=16",
            "evaluator.plot=false",
            "evaluator.k_min=2",
            "evaluator.k_max=10",
            "evaluator.k_step=2",
        ),
    ),
)


def time_protocol(p: Protocol, device: str, members: int, root: Path) -> dict:
    seeds = ",".join(str(s) for s in range(members))
    overrides = [
        f"+experiment={p.experiment}",
        f"trainer.device={device}",
        "trainer.max_epochs=2",
        f"trainer.ensemble=[{seeds}]",
        "trainer.progress=false",
        "logger=none",
        *p.overrides,
    ]
    started = time.perf_counter()
    run_experiment(overrides, root / p.name)
    wall = time.perf_counter() - started
    history = json.loads((root / p.name / "seed_0" / "history.json").read_text())
    epoch_s = float(history[-1]["time/epoch_s"])
    minutes = epoch_s * p.epochs * p.runs / members / 60
    return {
        "protocol": p.name,
        "experiment": p.experiment,
        "members": members,
        "device": device,
        "epoch_s": epoch_s,
        "first_epoch_s": float(history[0]["time/epoch_s"]),
        "run_wall_s": wall,
        "protocol_minutes": minutes,
        "target_minutes": p.target_min,
        "met": None if p.target_min is None else minutes <= p.target_min,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--tiny", action="store_true", help="rehearse on the CPU in seconds")
    parser.add_argument("--only", nargs="*", help="protocol names")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    protocols = TINY if args.tiny else PROTOCOLS
    if args.only:
        protocols = tuple(p for p in protocols if p.name in args.only)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in protocols:
            try:
                row = time_protocol(p, args.device, args.members, Path(tmp))
            except Exception as error:  # one protocol's failure must not lose the others
                row = {"protocol": p.name, "error": f"{type(error).__name__}: {error}"}
            results.append(row)
            print(json.dumps(row), flush=True)
            if args.json:  # after every protocol, so a time limit keeps what finished
                write_json(args.json, {"results": results})


if __name__ == "__main__":
    main()
