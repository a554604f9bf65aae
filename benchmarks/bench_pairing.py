"""Time 0-dim persistence pairing: ``pairing0`` against ripser and gudhi in one process.

    python benchmarks/bench_pairing.py [--m 128] [--batch 16] [--repeat 15] [--json PATH]

All timings are medians over ``--repeat`` timeit repeats (interleaved across the candidates), each
averaging enough calls to last about 10 ms, on the same random Euclidean distance matrices. Ratios
(peer / pairing0) are what to compare across machines, not the absolute times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import timeit
from collections.abc import Callable
from pathlib import Path

import gudhi
import numba
import numpy as np
import ripser
import torch

from topoexp.io import write_json
from topoexp.topology import pairing0


def distance_matrices(b: int, m: int, dim: int, seed: int) -> np.ndarray:
    """(b, m, m) Euclidean distance matrices of Gaussian points, float64."""
    X = np.random.default_rng(seed).normal(size=(b, m, dim))
    return np.linalg.norm(X[:, :, None] - X[:, None], axis=-1)


def median_times(
    fns: dict[str, Callable[[], object]], repeat: int, target_s: float = 0.01
) -> dict[str, float]:
    """Median seconds per call of each function over ``repeat`` timeit repeats.

    The repeats are interleaved round-robin, so a change in machine load hits every candidate
    alike and the ratios stay meaningful on a shared machine.
    """
    timers = {name: timeit.Timer(fn) for name, fn in fns.items()}
    numbers = {}
    for name, timer in timers.items():
        per_call = min(timer.repeat(repeat=3, number=1))
        numbers[name] = max(1, int(target_s / max(per_call, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, timer in timers.items():
            samples[name].append(timer.timeit(numbers[name]) / numbers[name])
    return {name: statistics.median(values) for name, values in samples.items()}


def ripser0(D: np.ndarray) -> object:
    return ripser.ripser(D, maxdim=0, distance_matrix=True)


def gudhi0(D: np.ndarray) -> object:
    tree = gudhi.RipsComplex(distance_matrix=D).create_simplex_tree(max_dimension=1)
    return tree.persistence()


def check_agreement(D: np.ndarray) -> None:
    """The benchmarked calls compute the same deaths (guards against timing a broken kernel)."""
    pairs = pairing0(D)
    ours = np.sort(D[pairs[:, 0], pairs[:, 1]])
    dgm = ripser0(D)["dgms"][0]
    theirs = np.sort(dgm[np.isfinite(dgm[:, 1]), 1])
    np.testing.assert_allclose(ours[ours > 0], theirs, rtol=1e-6)


def run(m: int, batch: int, dim: int, repeat: int, seed: int) -> dict:
    """All timings (seconds per call) and the ratios peer / pairing0."""
    Ds = distance_matrices(batch, m, dim, seed)
    D, D_torch, Ds_torch = Ds[0], torch.from_numpy(Ds[0]), torch.from_numpy(Ds)
    pairing0(D), pairing0(D_torch), pairing0(Ds), pairing0(Ds, parallel=True)  # numba warm-up
    check_agreement(D)
    single = median_times(
        {
            "pairing0 (numpy)": lambda: pairing0(D),
            "pairing0 (torch cpu)": lambda: pairing0(D_torch),
            "ripser": lambda: ripser0(D),
            "gudhi": lambda: gudhi0(D),
        },
        repeat,
    )
    batched = median_times(
        {
            "pairing0 (numpy)": lambda: pairing0(Ds),
            "pairing0 (torch cpu)": lambda: pairing0(Ds_torch),
            "pairing0 (numpy, prange)": lambda: pairing0(Ds, parallel=True),
            f"ripser x{batch}": lambda: [ripser0(d) for d in Ds],
            f"gudhi x{batch}": lambda: [gudhi0(d) for d in Ds],
        },
        repeat,
    )
    ripser_b, gudhi_b = batched[f"ripser x{batch}"], batched[f"gudhi x{batch}"]
    ratios = {
        "ripser / pairing0": single["ripser"] / single["pairing0 (numpy)"],
        "gudhi / pairing0": single["gudhi"] / single["pairing0 (numpy)"],
        "ripser / pairing0 (torch)": single["ripser"] / single["pairing0 (torch cpu)"],
        f"ripser x{batch} / pairing0 batch": ripser_b / batched["pairing0 (numpy)"],
        f"ripser x{batch} / pairing0 batch (torch)": ripser_b / batched["pairing0 (torch cpu)"],
        f"ripser x{batch} / pairing0 batch (prange)": (
            ripser_b / batched["pairing0 (numpy, prange)"]
        ),
        f"gudhi x{batch} / pairing0 batch": gudhi_b / batched["pairing0 (numpy)"],
    }
    return {
        "m": m,
        "batch": batch,
        "dim": dim,
        "repeat": repeat,
        "seed": seed,
        "cpu_count": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "numba_threading_layer": numba.threading_layer(),
        "single_s": single,
        "batched_s": batched,
        "ratios": ratios,
    }


def print_table(result: dict) -> None:
    print(
        f"m={result['m']}  batch={result['batch']}  cpus={result['cpu_count']}  "
        f"numba threads={result['numba_threads']} ({result['numba_threading_layer']})"
    )
    for title, key in (("one matrix", "single_s"), (f"{result['batch']} matrices", "batched_s")):
        print(f"\n{title:<32} {'median':>12}")
        for name, seconds in result[key].items():
            print(f"  {name:<30} {seconds * 1e6:>9.1f} µs")
    print(f"\n{'ratio':<44} {'×':>8}")
    for name, ratio in result["ratios"].items():
        print(f"  {name:<42} {ratio:>8.1f}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=128, help="points per matrix")
    parser.add_argument("--batch", type=int, default=16, help="matrices in the batched case")
    parser.add_argument("--dim", type=int, default=10, help="dimension of the random points")
    parser.add_argument("--repeat", type=int, default=21, help="timeit repeats (median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    result = run(args.m, args.batch, args.dim, args.repeat, args.seed)
    print_table(result)
    if args.json is not None:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
