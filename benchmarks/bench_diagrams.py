"""Time ``diagram_metrics`` and its parts on SPHERES, each against a peer in the same process.

    python benchmarks/bench_diagrams.py [--repeat 3] [--slow-peers] [--json PATH]

Data: the 1000-point SPHERES test split (101-D, z-scored) as X and its 2-D PCA as Z. Timed:
``diagram_metrics(X, Z)`` end to end (dims 0 and 1, bottleneck, W1, W2, sliced Wasserstein, raw /
maxnorm / p50); the diagrams of each cloud (ours: pdist + ripser on the distance matrix; peers:
ripser on the points, gudhi with edge collapses); each distance on the raw H0 and H1 diagrams
(ours against gudhi's exact bottleneck, POT, Hera, persim, gudhi.representations). Each value is
the median over ``--repeat`` calls; peers slower than ~1 s per call run once. POT and persim
Wasserstein on the 1000-point H0 diagrams (5–8 s per call each) run only with ``--slow-peers``
(about 55 s in all instead of 40 s on 2 busy cores). The ``value`` column
shows that the candidates compute the same number (persim's W1 uses an L2 ground metric, ours
L∞; gudhi.representations' sliced Wasserstein uses n-1 directions). Plain gudhi Rips without
edge collapses takes minutes at n = 1000 (about 8 min per cloud measured) and is not run.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import gudhi
import numpy as np
import persim
import ripser
from gudhi.hera import wasserstein_distance as hera_wasserstein
from gudhi.representations import SlicedWassersteinDistance
from gudhi.wasserstein import wasserstein_distance as pot_wasserstein
from scipy.spatial.distance import pdist, squareform
from sklearn.decomposition import PCA

from topoexp.data.base import as_arrays
from topoexp.data.spheres import load_spheres
from topoexp.evaluation.diagrams import (
    bottleneck,
    cloud_diagrams,
    diagram_metrics,
    sliced_wasserstein,
    split_essential,
    wasserstein,
)
from topoexp.io import write_json

SLOW_S = 1.0  # peers slower than this per call are timed once


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median seconds per call over ``repeat`` calls (one call if the first exceeds SLOW_S)."""
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
        if times[0] > SLOW_S:
            break
    return statistics.median(times), value


def gudhi_collapsed(D: np.ndarray, maxdim: int = 1) -> list[np.ndarray]:
    """gudhi Rips diagrams via edge collapses (collapsed until stable) and expansion."""
    tree = gudhi.SimplexTree.create_from_array(D)
    while True:
        before = tree.num_simplices()
        tree.collapse_edges(1)
        if tree.num_simplices() == before:
            break
    tree.expansion(maxdim + 1)
    tree.compute_persistence()
    return [tree.persistence_intervals_in_dimension(k).reshape(-1, 2) for k in range(maxdim + 1)]


def spheres_clouds() -> tuple[np.ndarray, np.ndarray]:
    X, _ = as_arrays(load_spheres().test)
    return X, PCA(n_components=2).fit_transform(X)


def distance_candidates(
    d1: np.ndarray, d2: np.ndarray, n_directions: int, slow_peers: bool
) -> dict[str, dict[str, Callable[[], float]]]:
    """For each distance: ours first, then its peers, on finite diagrams d1, d2."""

    def quiet(fn: Callable[[], float]) -> Callable[[], float]:
        def call() -> float:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return fn()

        return call

    inf = math.inf
    thetas_note = f"gudhi.representations ({n_directions + 1} → {n_directions} dirs)"
    table: dict[str, dict[str, Callable[[], float]]] = {
        "bottleneck": {
            "ours (gudhi, e=None)": lambda: bottleneck(d1, d2),
            "gudhi e=0 (exact)": lambda: gudhi.bottleneck_distance(d1, d2, 0),
            "persim.bottleneck": quiet(lambda: persim.bottleneck(d1, d2)),
        },
        "wasserstein1": {
            "ours (exact)": lambda: wasserstein(d1, d2, order=1.0),
            "gudhi POT": lambda: pot_wasserstein(d1, d2, order=1.0, internal_p=inf),
            "gudhi.hera δ=1e-6": lambda: hera_wasserstein(
                d1, d2, order=1.0, internal_p=inf, delta=1e-6
            ),
            "persim.wasserstein (L2)": quiet(lambda: persim.wasserstein(d1, d2)),
        },
        "wasserstein2": {
            "ours (exact)": lambda: wasserstein(d1, d2, order=2.0),
            "gudhi POT": lambda: pot_wasserstein(d1, d2, order=2.0, internal_p=inf),
            "gudhi.hera δ=1e-6": lambda: hera_wasserstein(
                d1, d2, order=2.0, internal_p=inf, delta=1e-6
            ),
        },
        "sliced_wasserstein": {
            "ours": lambda: sliced_wasserstein(d1, d2, n_directions=n_directions),
            "persim.sliced_wasserstein": lambda: persim.sliced_wasserstein(d1, d2, n_directions),
            thetas_note: lambda: SlicedWassersteinDistance(n_directions + 1)(d1, d2),
        },
    }
    if not slow_peers and min(len(d1), len(d2)) > 500:
        for name in ("gudhi POT", "persim.wasserstein (L2)"):
            for peers in table.values():
                peers.pop(name, None)
    return table


def run(repeat: int, n_directions: int, slow_peers: bool) -> dict:
    """All rows (section, task, candidate, seconds, ratio to ours, value) and the metrics."""
    X, Z = spheres_clouds()
    rows: list[dict] = []

    def add(section: str, task: str, candidates: dict[str, Callable[[], object]]) -> None:
        ours_s = None
        for name, fn in candidates.items():
            seconds, value = timed(fn, repeat)
            ours_s = seconds if ours_s is None else ours_s
            shown = float(value) if isinstance(value, (float, np.floating)) else None
            rows.append(
                {
                    "section": section,
                    "task": task,
                    "candidate": name,
                    "seconds": seconds,
                    "ratio": seconds / ours_s,
                    "value": shown,
                }
            )

    metrics_holder: dict[str, dict[str, float]] = {}

    def full() -> None:
        metrics_holder["metrics"] = diagram_metrics(X, Z, n_directions=n_directions)

    add("end to end", "diagram_metrics (dims 0,1; 4 distances; raw/maxnorm/p50)", {"ours": full})

    for name, cloud in (("X 101-D", X), ("Z 2-D", Z)):
        D = squareform(pdist(cloud.astype(np.float64)))
        peers: dict[str, Callable[[], object]] = {
            "ours (pdist + ripser on D)": lambda c=cloud: cloud_diagrams(c, 1, ("raw", "p50")),
            "ripser on points": lambda c=cloud: ripser.ripser(c, maxdim=1),
        }
        peers["gudhi + edge collapse"] = lambda D=D: gudhi_collapsed(D)
        add("diagrams", f"Rips H0+H1 of {name}", peers)

    dX, dZ = cloud_diagrams(X, 1).diagrams, cloud_diagrams(Z, 1).diagrams
    for dim in (0, 1):
        d1, d2 = split_essential(dX[dim])[0], split_essential(dZ[dim])[0]
        for distance, candidates in distance_candidates(d1, d2, n_directions, slow_peers).items():
            add("distances", f"{distance} H{dim} ({len(d1)} vs {len(d2)} points)", candidates)

    return {
        "n": len(X),
        "repeat": repeat,
        "n_directions": n_directions,
        "slow_peers": slow_peers,
        "cpu_count": os.cpu_count(),
        "versions": {pkg: version(pkg) for pkg in ("ripser", "gudhi", "persim", "POT", "numpy")},
        "rows": rows,
        "metrics": metrics_holder["metrics"],
    }


def print_table(result: dict) -> None:
    print(f"SPHERES test split n={result['n']}  cpus={result['cpu_count']}  {result['versions']}")
    task = None
    for row in result["rows"]:
        if row["task"] != task:
            task = row["task"]
            print(f"\n[{row['section']}] {task}")
            print(f"  {'candidate':<44} {'seconds':>9} {'× ours':>8} {'value':>16}")
        value = "" if row["value"] is None else f"{row['value']:.10g}"
        print(f"  {row['candidate']:<44} {row['seconds']:>9.4f} {row['ratio']:>8.2f} {value:>16}")
    print("\nmetrics:")
    for key, value in result["metrics"].items():
        print(f"  {key:<36} {value:.6g}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="calls per candidate (median)")
    parser.add_argument("--n-directions", type=int, default=50, help="sliced Wasserstein")
    parser.add_argument(
        "--slow-peers",
        action="store_true",
        help="also time POT and persim Wasserstein on the 1000-point H0 diagrams (5-8 s each)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    result = run(args.repeat, args.n_directions, args.slow_peers)
    print_table(result)
    if args.json is not None:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
