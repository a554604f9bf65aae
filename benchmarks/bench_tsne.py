"""Which t-SNE to run: openTSNE (FFT or Barnes–Hut) against scikit-learn's Barnes–Hut, same input.

    python benchmarks/bench_tsne.py [--n 5000] [--mnist-root DIR] [--n-jobs 2] [--json PATH]

Every candidate embeds the same seeded subsample of the MNIST training images (flattened, scaled
to [-1, 1] as in the protocol; seeded Gaussian noise when ``--mnist-root`` holds no MNIST) with
the settings of the MNIST Table-1 run: perplexity 32.7142, learning rate 126.56 in bhtsne's
convention, 1500 iterations, random start (``topoexp.models.tsne``). For each it reports the wall
time, the ratio to scikit-learn's time, the t-SNE objective the library reports (its KL
divergence; comparable only roughly, each library approximates it differently) and the
protocol's quality measures of the embedding (KL_0.1, ℓ-Trust, ℓ-Cont over k = 10..200), so speed
is weighed against the quality the benchmark scores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from bench_evaluation import read_idx_images

from topoexp.evaluation.nldr import nldr_metrics
from topoexp.io import write_json
from topoexp.models.tsne import make_tsne

CANDIDATES = {
    "sklearn_bh": {"implementation": "sklearn"},
    "opentsne_fft": {"implementation": "opentsne", "negative_gradient_method": "fft"},
    "opentsne_bh": {"implementation": "opentsne", "negative_gradient_method": "bh"},
}
MNIST_TSNE = {"perplexity": 32.7142, "learning_rate": 126.56, "max_iter": 1500}


def load_images(n: int, seed: int, mnist_root: str | None) -> tuple[np.ndarray, str]:
    images_file = Path(mnist_root or "").joinpath("MNIST", "raw", "train-images-idx3-ubyte")
    rng = np.random.default_rng(seed)
    if mnist_root and images_file.is_file():
        images = read_idx_images(images_file)
        images = images[np.sort(rng.choice(len(images), size=n, replace=False))]
        X = ((images.reshape(n, -1) / 255.0 - 0.5) / 0.5).astype(np.float32)
        return X, f"MNIST training images {X.shape}"
    X = rng.normal(size=(n, 784)).astype(np.float32)
    return X, f"Gaussian noise {X.shape}"


def run_candidate(name: str, X: np.ndarray, n_jobs: int, seed: int) -> dict[str, float | str]:
    estimator = make_tsne({**MNIST_TSNE, **CANDIDATES[name], "n_jobs": n_jobs})
    estimator.set_params(random_state=seed)
    start = time.perf_counter()
    Z = estimator.fit_transform(X)
    seconds = time.perf_counter() - start
    quality = nldr_metrics(X, Z)
    return {
        "candidate": name,
        "seconds": seconds,
        "objective_kl": float(estimator.kl_divergence_),
        "kl_0.1": quality["kl_0.1"],
        "trust": quality["trust"],
        "cont": quality["cont"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--mnist-root", default=None, help="torchvision data root with MNIST/")
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=CANDIDATES)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    X, source = load_images(args.n, args.seed, args.mnist_root)
    # compile the evaluator's kernels outside the timings
    nldr_metrics(X[:400], np.random.default_rng(0).normal(size=(400, 2)))
    rows = [run_candidate(name, X, args.n_jobs, args.seed) for name in args.candidates]
    peer = next((r["seconds"] for r in rows if r["candidate"] == "sklearn_bh"), None)
    print(f"t-SNE on {source}, {args.n_jobs} threads, 1500 iterations")
    print(f"{'candidate':<14}{'seconds':>9}{'speed-up':>10}{'KL obj':>9}{'KL_0.1':>9}{'trust':>8}")
    for row in rows:
        row["speedup_vs_sklearn"] = peer / row["seconds"] if peer else float("nan")
        print(
            f"{row['candidate']:<14}{row['seconds']:>9.1f}{row['speedup_vs_sklearn']:>9.2f}×"
            f"{row['objective_kl']:>9.3f}{row['kl_0.1']:>9.4f}{row['trust']:>8.4f}"
        )
    if args.json is not None:
        write_json(args.json, {"data": source, "n_jobs": args.n_jobs, "rows": rows})


if __name__ == "__main__":
    main()
