"""Time TopModel's 400 persistence features of the MNIST test images against gudhi in one process.

    python benchmarks/bench_topmodel_features.py --mnist-root DATA [--n 10000] [--peer-n 100]
                                                 [--threads 1] [--json PATH]

- ours: :class:`~topoexp.topology.directional.DirectionalFeatures` (8 directional filtrations,
  superlevel sets on the Freudenthal grid, E(p, q, 1; PD0 and PD1) for p, q = 0..4) of the first
  ``--n`` test images, no gradient (target: all 10,000 within 120 s on 2 cores), and one forward
  and backward on 100 images (one attack step);
- peer: the same features from gudhi, per filtration, on the first ``--peer-n`` images: a lower-star
  simplex tree of the same triangulation (``insert_batch``, ``persistence_intervals_in_dimension``)
  and NumPy energies; for information gudhi's cubical complex on the same values as vertices
  (another complex, so other bars), persistence only. Per-image times are compared (ratio peer /
  ours), and the peer's features are checked equal to ours on those images.

Ratios, not absolute times, carry across machines; both sides run in this process on the same
images with ``--threads`` torch threads. The compiled union-find is single-threaded, and on a busy
2-core machine two torch threads made the attack step many times slower than one thread
(``results/bench/topmodel_features*.json``: OpenMP threads waiting for each other), hence one by
default.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import gudhi
import numpy as np
import torch

from topoexp.evaluation.image_tensors import image_tensors
from topoexp.io import write_json
from topoexp.topology.directional import DirectionalFeatures

TARGET_S = 120.0


def gudhi_features(images: np.ndarray, feats: DirectionalFeatures) -> np.ndarray:
    """The featuriser's output from gudhi simplex trees (one per image and direction)."""
    simplices = [feats.layer.complex.complex.simplices(d) for d in range(3)]
    heights = feats.heights.numpy()
    powers = range(feats.max_power + 1)
    out = np.empty((len(images), feats.n_features))
    for i, img in enumerate(images.reshape(len(images), -1).astype(np.float64)):
        row = []
        for g in heights:
            f = -(img * g)  # superlevel sets of I·g
            st = gudhi.SimplexTree()
            for s in simplices:
                st.insert_batch(s.T, f[s].max(axis=1))
            st.compute_persistence(persistence_dim_max=True)
            for k in feats.dims:
                bars = st.persistence_intervals_in_dimension(k)
                bars = bars[np.isfinite(bars).all(1) & (bars[:, 1] > bars[:, 0])]
                length, mean = bars[:, 1] - bars[:, 0], -(bars[:, 0] + bars[:, 1]) / 2
                row += [float((length**p * mean**q).sum()) for p in powers for q in powers]
        out[i] = row
    return out


def gudhi_cubical(images: np.ndarray, feats: DirectionalFeatures) -> object:
    """gudhi's cubical complex of the same filtration values (as vertices), persistence only."""
    h, w = feats.size
    out = []
    for img in images.reshape(len(images), h, w).astype(np.float64):
        for g in feats.heights.numpy():
            cc = gudhi.CubicalComplex(vertices=-(img * g.reshape(h, w)))
            cc.compute_persistence()
            out.append(cc.persistence_intervals_in_dimension(1))
    return out


def timed(fn, repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-root", type=Path, required=True, help="data root (torchvision)")
    parser.add_argument("--n", type=int, default=10_000, help="test images featurised by ours")
    parser.add_argument("--peer-n", type=int, default=100, help="test images featurised by gudhi")
    parser.add_argument("--repeat", type=int, default=3, help="timings per measurement (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    x, _ = image_tensors("mnist", args.mnist_root, "test")
    x = x[: args.n]
    feats = DirectionalFeatures()
    feats(x[:8])  # load the compiled kernels

    def ours() -> torch.Tensor:
        with torch.no_grad():
            return feats(x)

    def attack_step() -> None:
        xb = x[:100].clone().requires_grad_(True)
        feats(xb).sum().backward()

    attack_step()  # the first backward sets up autograd's workers
    ours_s = timed(ours, args.repeat)
    step_s = timed(attack_step, args.repeat)
    peer_x = x[: args.peer_n].numpy()
    start = time.perf_counter()
    peer = gudhi_features(peer_x, feats)
    peer_s = time.perf_counter() - start
    cubical_s = timed(lambda: gudhi_cubical(peer_x, feats), 1)
    with torch.no_grad():
        mine = feats(x[: args.peer_n].double()).numpy()
    max_rel = float(np.max(np.abs(mine - peer) / np.maximum(np.abs(peer), 1e-12)))
    if not np.allclose(mine, peer, rtol=1e-9, atol=1e-12):
        raise AssertionError(f"features differ from gudhi's (max relative difference {max_rel})")
    ours_per = ours_s / len(x)
    result = {
        "images": len(x),
        "features": feats.n_features,
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "ours_s": ours_s,
        "ours_ms_per_image": 1e3 * ours_per,
        "ours_projected_10000_s": ours_per * 10_000,
        "target_10000_s": TARGET_S,
        "meets_target": ours_per * 10_000 <= TARGET_S,
        "attack_step_100_images_fwd_bwd_s": step_s,
        "peer_images": args.peer_n,
        "gudhi_simplex_tree_ms_per_image": 1e3 * peer_s / args.peer_n,
        "ratio_gudhi_simplex_tree_over_ours": (peer_s / args.peer_n) / ours_per,
        "gudhi_cubical_persistence_only_ms_per_image": 1e3 * cubical_s / args.peer_n,
        "ratio_gudhi_cubical_over_ours": (cubical_s / args.peer_n) / ours_per,
        "max_relative_difference_to_gudhi": max_rel,
    }
    for key, value in result.items():
        print(f"{key:48s} {value:.4g}" if isinstance(value, float) else f"{key:48s} {value}")
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
