"""The arithmetic of each paper's full protocol, counted from the experiments' own configs.

    python benchmarks/protocol_flops.py [--json PATH] [--rate 50e12]

For every trained experiment of a protocol, the config is composed as ``python -m topoexp``
would, the model and its objective are built at the data's input shape, and one training step
(the objective's forward and backward at the protocol's batch size) is counted with
:class:`torch.utils.flop_counter.FlopCounterMode` (matrix products and convolutions; the
persistence pairings and elementwise work are not counted). Steps per epoch × epochs × seeds
give the protocol's total; ``--rate`` turns it into minutes at an assumed sustained rate
(default 50 TFLOP/s, about 10 % of an H200's dense TF32 peak) for comparison with measured
device times. The validation and evaluation passes are left out (a forward only, < 10 %).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from topoexp.cli import compose_config
from topoexp.config.build import build
from topoexp.io import write_json
from topoexp.tasks.composition import build_objective

#: MNIST and Fashion-MNIST: 60,000 training images, 51,000 without the 15 % validation part.
FIT_SIZES = {"fit": 60_000, "train": 51_000}
PROTOCOLS: dict[str, list[str]] = {
    "topoae_images": [f"{d}/{m}" for d in ("mnist", "fmnist") for m in ("ae", "topoae", "topopca")],
    "corel_offline": [
        f"corel/offline/{n}"
        for n in ("mnist", "fmnist", "mnist_lam0", "fmnist_lam0", "fmnist_1x160")
    ],
    "homreg": [
        f"homreg/mnist/{m}_{n}"
        for m in ("ae", "ae_ball", "ae_ballprior", "ae_reg", "vae")
        for n in (2, 5, 10)
    ]
    + [
        f"homreg/fmnist/{m}_{n}"
        for m in ("ae", "ae_ballprior", "ae_reg", "vae")
        for n in (2, 5, 10)
    ],
}
#: The protocols' epochs and seeds (COREL trains each backbone once; its 5 runs are evaluations).
EPOCHS = {"topoae_images": 100, "corel_offline": 50, "homreg": 100}
SEEDS = {"topoae_images": 5, "corel_offline": 1, "homreg": 5}


def _input_shape(cfg) -> tuple[int, ...]:
    side = 32 if str(cfg.dataset.get("transform", "")) == "corel32" else 28
    return (1, side, side)


def step_flops(experiment: str) -> tuple[int, int, str]:
    """``(FLOPs of one training step, batch size, fit split)`` of ``experiment``."""
    cfg = compose_config([f"+experiment={experiment}"])
    shape = _input_shape(cfg)
    model = build(cfg, "model", input_shape=shape, random_state=0)
    objective = build_objective(cfg, model)
    objective.train()
    batch = int(cfg.trainer.batch_size)
    x = torch.rand(batch, *shape)
    if str(cfg.dataset.get("transform", "topoae")) == "topoae":
        x = 2 * x - 1
    counter = FlopCounterMode(display=False)
    with counter:
        loss, _ = objective.loss(x)
        loss.backward()
    return counter.get_total_flops(), batch, str(cfg.trainer.get("fit_on", "fit"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=50e12, help="assumed FLOP/s")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = {"rate_flops": args.rate, "protocols": {}}
    for name, experiments in PROTOCOLS.items():
        rows, total = [], 0.0
        for experiment in experiments:
            flops, batch, fit_on = step_flops(experiment)
            steps = math.ceil(FIT_SIZES[fit_on] / batch)
            runs = flops * steps * EPOCHS[name] * SEEDS[name]
            total += runs
            rows.append(
                {
                    "experiment": experiment,
                    "step_flops": flops,
                    "batch_size": batch,
                    "steps_per_epoch": steps,
                    "epochs": EPOCHS[name],
                    "flops": runs,
                }
            )
        out["protocols"][name] = {
            "experiments": rows,
            "flops": total,
            "minutes_at_rate": total / args.rate / 60,
        }
        print(
            f"{name:>14}: {len(experiments)} experiments × {SEEDS[name]} seeds × {EPOCHS[name]} "
            f"epochs = {total / 1e15:.2f} PFLOP, {total / args.rate / 60:.1f} min at "
            f"{args.rate / 1e12:.0f} TFLOP/s"
        )
    if args.json:
        write_json(args.json, out)


if __name__ == "__main__":
    main()
