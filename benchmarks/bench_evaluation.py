"""Time and memory of the full NLDR evaluation at MNIST-test size, with scikit-learn as the peer.

    python benchmarks/bench_evaluation.py [--n 10000] [--dim-x 784] [--mnist-root DIR]
                                          [--embedding random|pca] [--json PATH]

Each candidate runs in its own fresh Python process:

- ``nldr_metrics``: the whole table evaluation (KL for 5 σ, MRRE, Trust and Cont for the 20 ks
  10..200, RMSE), after a small warm-up call that loads or compiles the numba kernels;
- ``sklearn.manifold.trustworthiness(X, Z, n_neighbors=10)``: a single k of a single measure.

X is seeded Gaussian noise of ``--dim-x`` dimensions, or the MNIST test images (flattened, scaled
to [-1, 1] as in the protocol) read from ``--mnist-root`` (torchvision layout) when present; Z is
a seeded Gaussian 2-D embedding or the 2-D PCA projection of X.

Memory is the process's peak resident set while the call runs, read from the kernel (``VmHWM``,
reset just before the call, so transient peaks of data loading do not count). It includes the
interpreter, libraries and data already resident ("at start") and everything numpy, BLAS and
numba allocate, which tracemalloc would miss. The budget checked is the project's: at most 15 s
and 3 GB for ``nldr_metrics`` at n = 10,000. Wall times depend on the machine and its load; CPU
times and the ratio to the peer are the numbers to compare.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from topoexp.io import write_json

BUDGET_SECONDS = 15.0
BUDGET_BYTES = 3 * 1024**3


def load_data(
    n: int, dim_x: int, seed: int, mnist_root: str | None, embedding: str
) -> tuple[np.ndarray, np.ndarray, str]:
    """(X, Z, description of X) for the benchmark."""
    images_file = Path(mnist_root or "").joinpath("MNIST", "raw", "t10k-images-idx3-ubyte")
    if mnist_root and images_file.is_file():
        images = read_idx_images(images_file)[:n]
        X = ((images.reshape(len(images), -1) / 255.0 - 0.5) / 0.5).astype(np.float32)
        source = f"MNIST test images {X.shape}"
    else:
        X = np.random.default_rng(seed).normal(size=(n, dim_x)).astype(np.float32)
        source = f"Gaussian noise {X.shape}"
    if embedding == "pca":
        centred = X - X.mean(axis=0)
        Z = (centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T).astype(np.float32)
    else:
        Z = np.random.default_rng(seed + 1).normal(size=(len(X), 2)).astype(np.float32)
    return X, Z, source


def read_idx_images(path: Path) -> np.ndarray:
    """uint8 images (n, rows, cols) from an IDX file (the raw MNIST format torchvision reads)."""
    data = path.read_bytes()
    magic, n, rows, cols = np.frombuffer(data[:16], dtype=">i4")
    if magic != 2051:
        raise ValueError(f"{path} is not an IDX image file (magic {magic})")
    return np.frombuffer(data[16:], dtype=np.uint8).reshape(n, rows, cols)


def rss_bytes() -> int:
    """Current resident memory of this process (0 where /proc is unavailable)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes() -> int:
    """Peak resident memory of this process since start or the last :func:`reset_peak_rss`."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def reset_peak_rss() -> bool:
    """Restart the peak at the current resident memory (Linux ≥ 4.0); False if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def worker(candidate: str, args: argparse.Namespace) -> dict:
    """Run one candidate in this (fresh) process and measure it."""
    X, Z, source = load_data(args.n, args.dim_x, args.seed, args.mnist_root, args.embedding)
    if candidate == "nldr_metrics":
        from topoexp.evaluation import nldr_metrics

        rng = np.random.default_rng(0)
        nldr_metrics(rng.normal(size=(700, 30)), rng.normal(size=(700, 2)))  # numba warm-up

        def call() -> object:
            return nldr_metrics(X, Z)
    else:
        from sklearn.manifold import trustworthiness

        def call() -> object:
            return trustworthiness(X, Z, n_neighbors=10)

    process_peak_before, rss_at_start = peak_rss_bytes(), rss_bytes()
    isolated = reset_peak_rss()
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_call = peak_rss_bytes()
    return {
        "candidate": candidate,
        "data": source,
        "wall_s": wall,
        "cpu_s": cpu,
        # the peak while the call ran (whole-process peak if the reset is unsupported)
        "peak_rss_bytes": peak_call if isolated else max(peak_call, process_peak_before),
        "rss_at_call_start_bytes": rss_at_start,
        "process_peak_before_call_bytes": process_peak_before,
        "result": result,
    }


def run_in_subprocess(candidate: str, args: argparse.Namespace) -> dict:
    """This script as ``--worker candidate`` in a new interpreter; its JSON line back."""
    cmd = [sys.executable, __file__, "--worker", candidate, "--n", str(args.n)]
    cmd += ["--dim-x", str(args.dim_x), "--seed", str(args.seed), "--embedding", args.embedding]
    if args.mnist_root:
        cmd += ["--mnist-root", args.mnist_root]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(rows: list[dict]) -> dict:
    """Print the table and the verdict; return the summary written with ``--json``."""
    ours, peer = rows
    print(f"data: {ours['data']}, Z 2-D\n")
    print(f"{'candidate':<48}{'wall s':>9}{'cpu s':>9}{'peak RSS MB':>13}{'at start MB':>13}")
    labels = {
        "nldr_metrics": "nldr_metrics (5 KL, 20 ks × 3 measures, RMSE)",
        "sklearn_trustworthiness": "sklearn trustworthiness (k = 10 only)",
    }
    for row in rows:
        peak, start = row["peak_rss_bytes"] / 2**20, row["rss_at_call_start_bytes"] / 2**20
        times = f"{row['wall_s']:>9.2f}{row['cpu_s']:>9.2f}"
        print(f"{labels[row['candidate']]:<48}{times}{peak:>13.0f}{start:>13.0f}")
    ratio = ours["wall_s"] / peer["wall_s"]
    met = ours["wall_s"] <= BUDGET_SECONDS and ours["peak_rss_bytes"] <= BUDGET_BYTES
    print(f"\nratio nldr_metrics / sklearn single-k trustworthiness (wall): {ratio:.2f}")
    print(
        f"budget ≤{BUDGET_SECONDS:.0f} s and ≤{BUDGET_BYTES / 2**30:.0f} GB: "
        f"{'met' if met else 'NOT met'} ({ours['wall_s']:.1f} s, "
        f"{ours['peak_rss_bytes'] / 2**30:.2f} GB peak RSS)"
    )
    trust = ours["result"]["trust"]
    print(f"trust: ours (mean over ks) {trust:.6f}, sklearn (k = 10) {peer['result']:.6f}")
    return {"runs": rows, "ratio_wall": ratio, "budget_met": met}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dim-x", type=int, default=784)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mnist-root", default=None, help="torchvision data root with MNIST/")
    parser.add_argument("--embedding", choices=("random", "pca"), default="random")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args)))
        return
    rows = [run_in_subprocess(c, args) for c in ("nldr_metrics", "sklearn_trustworthiness")]
    summary = report(rows)
    if args.json is not None:
        write_json(args.json, summary)


if __name__ == "__main__":
    main()
