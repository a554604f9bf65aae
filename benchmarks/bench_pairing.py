"""Time 0-dim persistence pairing: ``pairing0`` against ripser and gudhi in one process.

    python benchmarks/bench_pairing.py [--m 128] [--batch 16] [--repeat 15] [--json PATH]

All timings are medians over ``--repeat`` timeit repeats (interleaved across the candidates), each
averaging enough calls to last about 10 ms, on the same random Euclidean distance matrices. Ratios
(peer / pairing0) are what to compare across machines, not the absolute times.

Device section: the Triton kernel (``backend="triton"``) against the numba kernel on the same
batches, float32 and float64, generic, tied (integer grid distances) and duplicated points. Its
pairs must equal numba's everywhere: on a CUDA device for :data:`DEVICE_SHAPES` (and then timed:
the pairing alone, and the loss's part from latents, ℓ1 distances + pairing + death times +
backward, with Triton on the device against numba through the host), on the CPU in Triton's
interpreter, a process of its own (``TRITON_INTERPRET=1`` before ``triton`` is imported), for the
small :data:`INTERPRET_SHAPES`, without timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

import gudhi
import numba
import numpy as np
import ripser
import torch

from topoexp.io import write_json
from topoexp.topology import death_times, pairing0, pairing_triton, pairwise_distances

#: (matrices, points) of the device section on CUDA; COREL's 16 branches × batch 100 first.
DEVICE_SHAPES = ((16, 100), (16, 128), (64, 128), (8, 512), (4, 1024))
#: The same in Triton's interpreter on the CPU (it runs every program step by step).
INTERPRET_SHAPES = ((3, 2), (3, 5), (3, 24))


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


def device_batches(b: int, m: int, seed: int) -> dict[str, np.ndarray]:
    """(b, m, m) float64 matrices of Gaussian points, grid points (ties), duplicates (zeros)."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 4, size=(b, m, 2))
    X = rng.normal(size=(b, max(m // 2, 1), 3))
    dup = np.take_along_axis(X, rng.integers(0, X.shape[1], size=(b, m, 1)), axis=1)
    return {
        "gauss": distance_matrices(b, m, 10, seed),
        "ties": np.abs(grid[:, :, None] - grid[:, None]).sum(-1).astype(np.float64),
        "duplicates": np.linalg.norm(dup[:, :, None] - dup[:, None], axis=-1),
    }


def pairing_agreement(shapes: tuple[tuple[int, int], ...], device: str, seed: int) -> list[dict]:
    """Do the Triton pairs equal numba's, for every shape, kind and float dtype?"""
    rows = []
    for b, m in shapes:
        for kind, D in device_batches(b, m, seed).items():
            for dtype in (torch.float32, torch.float64):
                Dt = torch.tensor(D, dtype=dtype, device=device)
                ours = pairing0(Dt, backend="triton").cpu().numpy()
                ref = pairing0(Dt.cpu().numpy())
                rows.append(
                    {
                        "b": b,
                        "m": m,
                        "kind": kind,
                        "dtype": str(dtype).removeprefix("torch."),
                        "equal": bool(np.array_equal(ours, ref)),
                    }
                )
    return rows


def interpreted_agreement(seed: int) -> list[dict] | str:
    """:func:`pairing_agreement` on the CPU in Triton's interpreter, in a fresh process."""
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    cmd = [sys.executable, __file__, "--interpret-check", "--seed", str(seed)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return f"failed: {proc.stderr.strip().splitlines()[-1:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def device_timings(b: int, m: int, repeat: int, seed: int) -> dict[str, float]:
    """Seconds per call on CUDA: the pairing, and the loss's part from latents, per backend."""
    sync = torch.cuda.synchronize
    D = torch.tensor(distance_matrices(b, m, 10, seed), dtype=torch.float32, device="cuda")
    z = torch.randn(b, m, 10, device="cuda", requires_grad=True)

    def loss_part(backend: str) -> None:
        Dz = pairwise_distances(z, p=1)
        death_times(Dz, pairing0(Dz.detach(), backend=backend)).sum().backward()
        sync()

    fns = {
        "triton (device)": lambda: (pairing0(D, backend="triton"), sync()),
        "numba (through the host)": lambda: (pairing0(D, backend="numba"), sync()),
        "loss part, triton": lambda: loss_part("triton"),
        "loss part, numba": lambda: loss_part("numba"),
    }
    for fn in fns.values():  # compiles the kernels for this size
        fn()
    return median_times(fns, repeat)


def device_run(repeat: int, seed: int) -> dict:
    """The device section: agreement everywhere, timings where CUDA is."""
    if not pairing_triton.available():
        return {"status": "skipped: triton is not installed"}
    if not torch.cuda.is_available():
        return {
            "status": "no CUDA device: Triton timing skipped; agreement checked in the interpreter",
            "agreement": interpreted_agreement(seed),
        }
    timings = {f"{b}x{m}": device_timings(b, m, repeat, seed) for b, m in DEVICE_SHAPES}
    ratios = {
        f"{shape} numba / triton": t["numba (through the host)"] / t["triton (device)"]
        for shape, t in timings.items()
    } | {
        f"{shape} loss part numba / triton": t["loss part, numba"] / t["loss part, triton"]
        for shape, t in timings.items()
    }
    return {
        "status": "timed",
        "device": torch.cuda.get_device_name(),
        "agreement": pairing_agreement(DEVICE_SHAPES, "cuda", seed),
        "timings_s": timings,
        "ratios": ratios,
    }


def print_device(result: dict) -> None:
    print(f"\ndevice pairing: {result['status']}")
    agreement = result.get("agreement")
    if isinstance(agreement, list):
        equal = sum(row["equal"] for row in agreement)
        print(f"  Triton pairs equal to numba's: {equal} of {len(agreement)} batches")
        for row in agreement:
            if not row["equal"]:
                print(f"  DIFFERENT: {row}")
    elif agreement is not None:
        print(f"  agreement: {agreement}")
    for shape, times in result.get("timings_s", {}).items():
        cells = "  ".join(f"{name} {seconds * 1e6:.1f} µs" for name, seconds in times.items())
        print(f"  {shape}: {cells}")
    for name, ratio in result.get("ratios", {}).items():
        print(f"  {name:<42} {ratio:>8.2f}")


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
    parser.add_argument("--no-device", action="store_true", help="skip the device section")
    parser.add_argument("--interpret-check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.interpret_check:  # the interpreter's process of interpreted_agreement
        rows = pairing_agreement(INTERPRET_SHAPES, "cpu", args.seed)
        print(json.dumps(rows))
        return {"agreement": rows}
    result = run(args.m, args.batch, args.dim, args.repeat, args.seed)
    print_table(result)
    if not args.no_device:
        result["device"] = device_run(args.repeat, args.seed)
        print_device(result["device"])
    if args.json is not None:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
