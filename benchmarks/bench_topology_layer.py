"""Time the topology layers against their peers in one process: level sets, Rips, weak alpha.

    python benchmarks/bench_topology_layer.py [--batch 64] [--size 28] [--points 100]
                                              [--repeat 21] [--threads 1] [--json PATH]

- level sets, dimensions 0 and 1, superlevel, Freudenthal grid, a batch of ``--batch`` images of
  ``--size``²: ``LevelSetLayer2D`` forward and backward vs a loop of gudhi ``CubicalComplex``
  (top cells) with ``cofaces_of_persistence_pairs`` (forward only; target ≥ 3× slower than ours),
  and vs the bare compiled union-find (argsort + the kernels, NumPy in, indices out; target:
  ours within 2×). For information: gudhi's vertex-valued cubical complex and a lower-star
  simplex tree per image.
- Rips, dimensions 0 and 1, ``--points`` uniform points in the unit square: ``RipsLayer`` forward
  and backward vs ripser alone (target: within 1.5×); gudhi's Rips generators for information.
- weak alpha, dimensions 0 and 1, same points: ``AlphaLayer`` forward and backward vs scipy's
  Delaunay plus a gudhi simplex tree's flag persistence with generators (target: within 2×).

The loss behind each backward is the sum of all finite bar lengths. Images are blurred noise
quantised to 256 grey levels (ties, as in MNIST). All timings are medians over ``--repeat``
interleaved timeit repeats; torch runs ``--threads`` intra-op threads (1, as the peer timings
of the spec were taken). Ratios, not absolute times, are what carries across machines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import timeit
from collections.abc import Callable
from pathlib import Path

import gudhi
import numpy as np
import ripser
import torch
from scipy.ndimage import gaussian_filter
from scipy.spatial import Delaunay

from topoexp.io import write_json
from topoexp.topology import AlphaLayer, LevelSetLayer2D, RipsLayer, SumBarcodeLengths
from topoexp.topology.alpha import _planar_delaunay, _sorted_edges
from topoexp.topology.rips import flag_h0_pairs
from topoexp.topology.unionfind import flag_h1_planar, levelset_h0, levelset_h1_planar


def median_times(
    fns: dict[str, Callable[[], object]], repeat: int, target_s: float = 0.02
) -> dict[str, float]:
    """Median seconds per call of each function over ``repeat`` interleaved timeit repeats."""
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


def images(batch: int, size: int, seed: int) -> np.ndarray:
    """``(batch, size, size)`` blurred noise in [0, 1], quantised to 256 levels."""
    rng = np.random.default_rng(seed)
    raw = gaussian_filter(rng.random((batch, size, size)), sigma=(0, 1.5, 1.5))
    lo, hi = raw.min(axis=(1, 2), keepdims=True), raw.max(axis=(1, 2), keepdims=True)
    return (np.round(255 * (raw - lo) / (hi - lo)) / 255).astype(np.float32)


SUMS = [SumBarcodeLengths(0), SumBarcodeLengths(1)]


def total_length(out: tuple[tuple[torch.Tensor, ...], bool]) -> torch.Tensor:
    """The loss behind every backward: all finite bar lengths of dimensions 0 and 1."""
    return SUMS[0](out).sum() + SUMS[1](out).sum()


# -- level sets -------------------------------------------------------------------------------


def levelset_fns(imgs: np.ndarray) -> dict[str, Callable[[], object]]:
    b, h, w = imgs.shape
    layer = LevelSetLayer2D((w, h), maxdim=1, sublevel=False)
    cx = layer.complex
    indptr, nbr, nbr_edge = cx.csr
    tri = cx.triangulation
    flat = imgs.reshape(b, -1)

    def ours_fwd_bwd() -> None:
        x = torch.from_numpy(imgs).requires_grad_()
        total_length(layer(x)).backward()

    def ours_fwd() -> object:
        with torch.no_grad():
            return layer(torch.from_numpy(imgs))

    def union_find() -> object:
        g = -flat
        order = np.argsort(g, axis=1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(g.shape[1])[None, :].repeat(b, 0), axis=1)
        d0 = np.empty((b, g.shape[1]), np.int64)
        levelset_h0(order, rank, indptr, nbr, d0)
        b1 = np.empty((b, len(tri.tris)), np.int64)
        d1 = np.empty_like(b1)
        levelset_h1_planar(order, rank, indptr, nbr, nbr_edge, tri.edge_faces, tri.tris, b1, d1)
        return d0, b1, d1

    def gudhi_top_cells() -> object:
        out = []
        for img in imgs:
            cc = gudhi.CubicalComplex(top_dimensional_cells=-img)
            cc.compute_persistence()
            out.append(cc.cofaces_of_persistence_pairs())
        return out

    def gudhi_vertices() -> object:
        out = []
        for img in imgs:
            cc = gudhi.CubicalComplex(vertices=-img)
            cc.compute_persistence()
            out.append(cc.vertices_of_persistence_pairs())
        return out

    simplices = [cx.complex.simplices(d) for d in range(3)]

    def gudhi_simplex_tree_8() -> object:  # 8 images; scaled to the batch in the report
        out = []
        for g in -flat[:8].astype(np.float64):
            st = gudhi.SimplexTree()
            for s in simplices:
                st.insert_batch(s.T, g[s].max(axis=1))
            st.compute_persistence(min_persistence=-1)
            out.append(st.lower_star_persistence_generators())
        return out

    grid_layer = LevelSetLayer2D((w, h), maxdim=1, sublevel=False, complex="grid")

    def ours_grid() -> None:
        x = torch.from_numpy(imgs).requires_grad_()
        total_length(grid_layer(x)).backward()

    return {
        "ours fwd+bwd": ours_fwd_bwd,
        "ours fwd": ours_fwd,
        "ours fwd+bwd, 'grid' triangulation": ours_grid,
        "union-find floor": union_find,
        "gudhi cubical top cells + cofaces": gudhi_top_cells,
        "gudhi cubical vertices + vertex pairs": gudhi_vertices,
        "gudhi simplex tree lower-star, 8 images": gudhi_simplex_tree_8,
    }


def check_levelset(imgs: np.ndarray) -> None:
    """Our bars of one image equal gudhi's lower-star simplex tree on the same triangulation."""
    h, w = imgs.shape[1:]
    layer = LevelSetLayer2D((w, h), maxdim=1, sublevel=False)
    dgms = layer(torch.from_numpy(imgs[0].astype(np.float64)))[0]
    g = -imgs[0].ravel().astype(np.float64)
    st = gudhi.SimplexTree()
    for d in range(3):
        s = layer.complex.complex.simplices(d)
        st.insert_batch(s.T, g[s].max(axis=1))
    st.compute_persistence()
    for d in (0, 1):
        _assert_bars(dgms[d].numpy(), -st.persistence_intervals_in_dimension(d))


# -- Rips and weak alpha ----------------------------------------------------------------------


def rips_fns(X: np.ndarray) -> dict[str, Callable[[], object]]:
    layer = RipsLayer(len(X), maxdim=1)

    def ours() -> None:
        x = torch.from_numpy(X).requires_grad_()
        total_length(layer(x)).backward()

    def gudhi_rips() -> object:
        st = gudhi.RipsComplex(points=X).create_simplex_tree(max_dimension=2)
        st.compute_persistence()
        return st.flag_persistence_generators()

    return {
        "ours fwd+bwd": ours,
        "ripser": lambda: ripser.ripser(X, maxdim=1),
        "gudhi Rips + flag generators": gudhi_rips,
    }


def delaunay_gudhi(X: np.ndarray) -> object:
    """The peer: scipy's Delaunay, flag values, a gudhi simplex tree, pairs with generators."""
    tri = np.sort(Delaunay(X).simplices, axis=1)
    e = np.unique(np.concatenate([tri[:, [0, 1]], tri[:, [0, 2]], tri[:, [1, 2]]]), axis=0)
    length = np.linalg.norm(X[e[:, 0]] - X[e[:, 1]], axis=1)
    side = [
        np.linalg.norm(X[tri[:, a]] - X[tri[:, b]], axis=1) for a, b in ((0, 1), (0, 2), (1, 2))
    ]
    st = gudhi.SimplexTree()
    st.insert_batch(np.arange(len(X))[None, :], np.zeros(len(X)))
    st.insert_batch(e.T, length)
    st.insert_batch(tri.T, np.max(side, axis=0))
    st.compute_persistence()
    return st, st.flag_persistence_generators()


def alpha_fns(X: np.ndarray) -> dict[str, Callable[[], object]]:
    layer = AlphaLayer(maxdim=1)

    def ours() -> None:
        x = torch.from_numpy(X).requires_grad_()
        total_length(layer(x)).backward()

    def true_alpha() -> object:
        st = gudhi.AlphaComplex(points=X).create_simplex_tree()
        st.compute_persistence()
        return st.persistence_pairs()

    def ours_pairs() -> object:  # critical cells only, no torch: what gudhi is replaced by
        edges, faces, tri_edges = _planar_delaunay(X)
        order, _ = _sorted_edges(X, edges)
        rank = np.empty(len(edges), np.int64)
        rank[order] = np.arange(len(edges))
        birth = np.empty(len(tri_edges), np.int64)
        death = np.empty(len(tri_edges), np.int64)
        flag_h1_planar(rank, faces, tri_edges, birth, death)
        return flag_h0_pairs(order, edges, len(X)), birth, death

    return {
        "ours fwd+bwd": ours,
        "ours pairs only (Delaunay + union-find)": ours_pairs,
        "scipy Delaunay + gudhi flag generators": lambda: delaunay_gudhi(X),
        "scipy Delaunay alone": lambda: Delaunay(X),
        "gudhi AlphaComplex (true alpha) + pairs": true_alpha,
    }


def _assert_bars(ours: np.ndarray, theirs: np.ndarray) -> None:
    def clean(a: np.ndarray) -> np.ndarray:
        a = a[a[:, 0] != a[:, 1]]
        return a[np.lexsort((a[:, 1], a[:, 0]))]

    a, b = clean(ours), clean(theirs)
    if a.shape != b.shape or not np.allclose(a, b, rtol=1e-5, atol=1e-6):
        raise AssertionError("the benchmarked layer disagrees with its peer")


def check_points(X: np.ndarray) -> None:
    dgms = RipsLayer(len(X), maxdim=1)(torch.from_numpy(X))[0]
    theirs = ripser.ripser(X, maxdim=1)["dgms"]
    for d in (0, 1):
        _assert_bars(dgms[d].detach().numpy(), theirs[d])
    dgms = AlphaLayer(maxdim=1)(torch.from_numpy(X))[0]
    st, _ = delaunay_gudhi(X)
    for d in (0, 1):
        _assert_bars(dgms[d].detach().numpy(), st.persistence_intervals_in_dimension(d))


# -- driver -----------------------------------------------------------------------------------


def run(batch: int, size: int, points: int, repeat: int, threads: int, seed: int) -> dict:
    torch.set_num_threads(threads)
    imgs = images(batch, size, seed)
    X = np.random.default_rng(seed).random((points, 2))
    check_levelset(imgs)
    check_points(X)
    results = {}
    for name, fns in (
        ("levelset", levelset_fns(imgs)),
        ("rips", rips_fns(X)),
        ("alpha", alpha_fns(X)),
    ):
        for fn in fns.values():  # warm-up (numba caches, allocators)
            fn()
        results[name] = median_times(fns, repeat)
    ls, rp, al = results["levelset"], results["rips"], results["alpha"]
    st_batch = ls["gudhi simplex tree lower-star, 8 images"] * batch / 8
    ratios = {
        "levelset: gudhi cubical loop (fwd) / ours (fwd+bwd)": (
            ls["gudhi cubical top cells + cofaces"] / ls["ours fwd+bwd"]
        ),
        "levelset: ours (fwd+bwd) / union-find floor": ls["ours fwd+bwd"] / ls["union-find floor"],
        "levelset: ours (fwd) / union-find floor": ls["ours fwd"] / ls["union-find floor"],
        "levelset: gudhi cubical vertices loop / ours (fwd+bwd)": (
            ls["gudhi cubical vertices + vertex pairs"] / ls["ours fwd+bwd"]
        ),
        "levelset: gudhi cubical loop (fwd) / ours 'grid' (fwd+bwd, same diagrams)": (
            ls["gudhi cubical top cells + cofaces"] / ls["ours fwd+bwd, 'grid' triangulation"]
        ),
        "levelset: gudhi cubical loop / union-find floor": (
            ls["gudhi cubical top cells + cofaces"] / ls["union-find floor"]
        ),
        "levelset: gudhi simplex tree loop / union-find floor": st_batch / ls["union-find floor"],
        "rips: ours (fwd+bwd) / ripser": rp["ours fwd+bwd"] / rp["ripser"],
        "rips: gudhi generators / ripser": rp["gudhi Rips + flag generators"] / rp["ripser"],
        "alpha: ours (fwd+bwd) / scipy Delaunay + gudhi": (
            al["ours fwd+bwd"] / al["scipy Delaunay + gudhi flag generators"]
        ),
        "alpha: gudhi part of the peer / our pairing part (Delaunay excluded)": (
            (al["scipy Delaunay + gudhi flag generators"] - al["scipy Delaunay alone"])
            / max(al["ours pairs only (Delaunay + union-find)"] - al["scipy Delaunay alone"], 1e-9)
        ),
    }
    targets = {
        "levelset: gudhi cubical loop (fwd) / ours (fwd+bwd)": (">=", 3.0),
        "levelset: ours (fwd+bwd) / union-find floor": ("<=", 2.0),
        "rips: ours (fwd+bwd) / ripser": ("<=", 1.5),
        "alpha: ours (fwd+bwd) / scipy Delaunay + gudhi": ("<=", 2.0),
    }
    met = {k: (ratios[k] >= t if op == ">=" else ratios[k] <= t) for k, (op, t) in targets.items()}
    return {
        "batch": batch,
        "size": size,
        "points": points,
        "repeat": repeat,
        "seed": seed,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "seconds": results,
        "ratios": ratios,
        "targets": {k: f"{op} {t}" for k, (op, t) in targets.items()},
        "met": met,
    }


def print_table(result: dict) -> None:
    print(
        f"batch={result['batch']} size={result['size']} points={result['points']} "
        f"torch threads={result['torch_threads']} load={result['load_average']}"
    )
    for section, times in result["seconds"].items():
        print(f"\n{section:<44} {'median':>12}")
        for name, seconds in times.items():
            print(f"  {name:<42} {seconds * 1e3:>9.2f} ms")
    print(f"\n{'ratio':<60} {'×':>7}  target")
    for name, ratio in result["ratios"].items():
        target = result["targets"].get(name, "")
        flag = ("met" if result["met"][name] else "NOT met") if target else ""
        print(f"  {name:<58} {ratio:>7.2f}  {target} {flag}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="images per batch")
    parser.add_argument("--size", type=int, default=28, help="image side")
    parser.add_argument("--points", type=int, default=100, help="points for Rips / weak alpha")
    parser.add_argument("--repeat", type=int, default=21, help="timeit repeats (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    result = run(args.batch, args.size, args.points, args.repeat, args.threads, args.seed)
    print_table(result)
    if args.json is not None:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
