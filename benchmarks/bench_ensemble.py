"""Seeds trained together: one epoch of a 5-member ensemble against 5 separate epochs (CPU).

    python benchmarks/bench_ensemble.py [--members 5] [--repeat 3] [--json PATH]

Two models of the papers, each with its regulariser, on MNIST-shaped data in [0, 1]:
(a) the homological-regularisation MLP autoencoder 784-64-64-5 with the homological term
    (batch 128; target: the ensemble's epoch ≤ 1.5× one member's epoch), and
(b) TopoAE's DeepAE 784-1000-500-250-2 with the signature term (batch 64; target ≤ 4×).
An "epoch" is ``--steps`` optimiser steps plus the validation pass, as ``Trainer.fit`` runs
them (:mod:`topoexp.training.ensemble` for the ensemble). Each repeat times the separate runs
and the ensemble one after the other, on the calling thread's CPU clock with one torch thread
(the work itself, not the time other processes on shared cores take; wall times beside); a
ratio is the median over the repeats of the ratio within a repeat.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from topoexp.io import write_json
from topoexp.losses.objective import Objective
from topoexp.losses.regularisers import Homological, TopologicalSignature
from topoexp.models.autoencoders import DeepAE
from topoexp.models.generative import GenerativeAE
from topoexp.training.ensemble import EnsembleMember, fit_ensemble
from topoexp.training.loop import Trainer


def _data(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.rand(n, 1, 28, 28, generator=g), torch.zeros(n))


def _homreg(seed: int) -> Objective:
    torch.manual_seed(seed)
    return Objective(GenerativeAE((1, 28, 28), 64, 5), {"homological": Homological(0.005)})


def _deep(seed: int) -> Objective:
    torch.manual_seed(seed)
    return Objective(DeepAE((1, 28, 28), latent_dim=2), {"signature": TopologicalSignature()})


MODELS: dict[str, tuple[Callable[[int], Objective], int, float]] = {
    "homreg_mlp": (_homreg, 128, 1.5),
    "deep_ae": (_deep, 64, 4.0),
}


def _trainer(seed: int, batch_size: int) -> Trainer:
    return Trainer(batch_size=batch_size, max_epochs=1, progress=False, seed=seed, weight_decay=0.0)


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.thread_time()
    fn()
    return time.perf_counter() - wall, time.thread_time() - cpu


def bench(name: str, members: int, steps: int, repeat: int) -> dict:
    build, batch_size, target = MODELS[name]
    fit, val = _data(batch_size * steps, 0), _data(4 * batch_size, 1)
    seeds = list(range(members))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)

        def separate() -> None:
            for s in seeds:
                _trainer(s, batch_size).fit(build(s), fit, val, root / f"alone{s}")

        def together() -> None:
            fit_ensemble(
                [
                    EnsembleMember(_trainer(s, batch_size), build(s), fit, val, root / f"m{s}")
                    for s in seeds
                ]
            )

        together()  # warm-up (vmap's first trace)
        for _ in range(repeat):
            sep_wall, sep_cpu = _timed(separate)
            ens_wall, ens_cpu = _timed(together)
            rows.append(
                {
                    "separate_wall_s": sep_wall,
                    "separate_cpu_s": sep_cpu,
                    "ensemble_wall_s": ens_wall,
                    "ensemble_cpu_s": ens_cpu,
                }
            )
    one = statistics.median(r["ensemble_cpu_s"] / (r["separate_cpu_s"] / members) for r in rows)
    five = statistics.median(r["ensemble_cpu_s"] / r["separate_cpu_s"] for r in rows)
    return {
        "model": name,
        "members": members,
        "steps": steps,
        "batch_size": batch_size,
        "ensemble_over_one_member": one,
        "ensemble_over_separate": five,
        "target": target,
        "met": one <= target,
        "repeats": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument(
        "--steps", type=int, nargs=2, default=(60, 12), help="steps per epoch: homreg MLP, DeepAE"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = [
        bench(name, args.members, steps, args.repeat)
        for name, steps in zip(MODELS, args.steps, strict=True)
    ]
    for r in results:
        print(
            f"{r['model']:>11}: {r['members']}-member epoch = {r['ensemble_over_one_member']:.2f}"
            f"× one member's (target ≤ {r['target']}×), {r['ensemble_over_separate']:.2f}× "
            f"{r['members']} separate epochs"
        )
    if args.json:
        write_json(args.json, {"threads": 1, "results": results})


if __name__ == "__main__":
    main()
