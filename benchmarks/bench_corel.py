"""COREL's costs, each against a peer in the same run: the training step and the one-class eval.

    python benchmarks/bench_corel.py [--steps 60] [--repeat 30] [--threads N] [--json PATH]

(a) Training step (forward, backward, Adam) of the 16 × 10 branched autoencoder on a batch of 100
    1×32×32 images: with the connectivity loss (λ = 20, one batched pairing call for the 16
    branches) against the plain reconstruction step (λ = 0, nothing topological computed; target
    ≤ 1.15×). Also timed: the λ = 0 objective's ``loss`` (which still computes the death times for
    logging) and the step with the pairing done by a per-branch loop of ``pairing0``. The
    topological part alone (16 distance matrices of 100 points) is timed for the batched call,
    the per-branch loop and ripser per branch. Steps alternate so load hits every variant alike;
    a step ratio is the median over rounds of the ratio of the two steps timed back to back.
(b) One-class evaluation of one backbone: 10 classes × 5 runs × m ∈ {80, 120, 500} against
    10,000 test latents, random Gaussian latents of MNIST's shape (60,000 × 160) scaled so ℓ1
    distances per branch are of the order of η (target ≤ 10 s). Peer: ``torch.cdist(p=1)``
    counting per branch on a slice of the test points, extrapolated linearly to 10,000.
(c) Only where ``torch.cuda.is_available()``: the training step and the batched topological part
    on CUDA against the CPU, in the same run. The distance matrices are computed on the device
    and ``pairing0`` pairs them there (its ``auto`` backend: the Triton dense Prim of
    :mod:`topoexp.topology.pairing_triton`), so nothing goes through the host; the target is
    ``cuda step_connectivity / plain`` ≤ 1.15× (1.78× when the pairing ran on the host).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import ripser
import torch

from topoexp.evaluation.one_class import one_class_count_eval
from topoexp.io import write_json
from topoexp.losses.connectivity import ConnectivityLoss
from topoexp.losses.objective import Objective
from topoexp.losses.regularisers import Connectivity
from topoexp.models.corel import CorelAutoencoder
from topoexp.topology import death_times0, pairing0, pairwise_distances


class LoopedConnectivity(ConnectivityLoss):
    """The same loss with one ``pairing0`` call per branch (the peer of the batched call)."""

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        deaths = torch.stack([death_times0(z[b], self.p).deaths for b in range(z.shape[0])])
        gaps = (deaths - self.eta).abs().masked_fill(deaths.detach() == 0, 0.0)
        return gaps.sum(-1).mean(), deaths


def interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Seconds of each call, the calls interleaved round-robin ``repeat`` times."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return samples


def median_interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median seconds per call, the calls interleaved round-robin ``repeat`` times."""
    return {name: statistics.median(v) for name, v in interleaved(fns, repeat).items()}


def paired_ratio(samples: dict[str, list[float]], name: str, reference: str) -> float:
    """Median over rounds of ``name / reference`` timed back to back in the same round: robust to
    load that drifts between rounds on a shared machine."""
    return statistics.median(a / b for a, b in zip(samples[name], samples[reference], strict=True))


def _step_fn(model: Objective, x: torch.Tensor, plain: bool = False) -> Callable[[], None]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=True)

    def step() -> None:
        loss = model.model.reconstruction_loss(x) if plain else model.loss(x)[0]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if x.is_cuda:
            torch.cuda.synchronize()

    return step


def _models(device: str) -> dict[str, Objective]:
    """COREL's objective as the one_class task trains it (``loss=connectivity``), per variant."""
    models = {}
    for name, lam in (("connectivity", 20.0), ("plain", 0.0), ("lambda0", 0.0), ("looped", 20.0)):
        torch.manual_seed(0)
        model = CorelAutoencoder(input_shape=(1, 32, 32))
        models[name] = Objective(model, {"connectivity": Connectivity(weight=lam)}).to(device)
    models["looped"].regularisers["connectivity"].connectivity = LoopedConnectivity()
    return models


def bench_step(steps: int, batch: int, device: str = "cpu") -> dict[str, list[float]]:
    """Step times (s) of the variants of (a) on ``device``, per round."""
    x = torch.rand(batch, 1, 32, 32, device=device)
    models = _models(device)
    fns = {
        "step_connectivity": _step_fn(models["connectivity"], x),
        "step_plain_reconstruction": _step_fn(models["plain"], x, plain=True),
        "step_lambda0_with_death_time_logging": _step_fn(models["lambda0"], x),
        "step_connectivity_looped_pairing": _step_fn(models["looped"], x),
    }
    interleaved(fns, 3)  # warm-up: numba, allocator, cuDNN
    return interleaved(fns, steps)


def bench_topology(repeat: int, batch: int, device: str = "cpu") -> dict:
    """The topological part alone: 16 branches of ``batch`` latents of dimension 10."""
    z = torch.randn(16, batch, 10, device=device) * 0.3
    z_np = z.cpu().numpy().astype(np.float64)
    D_np = np.abs(z_np[:, :, None] - z_np[:, None]).sum(-1)
    loss = ConnectivityLoss()

    def sync() -> None:
        if z.is_cuda:
            torch.cuda.synchronize()

    fns = {
        "batched_pairing0": lambda: (pairing0(pairwise_distances(z, p=1)), sync()),
        "looped_pairing0": lambda: (
            [pairing0(pairwise_distances(z[b], p=1)) for b in range(16)],
            sync(),
        ),
        "ripser_per_branch": lambda: [
            ripser.ripser(D_np[b], maxdim=0, distance_matrix=True) for b in range(16)
        ],
        "loss_forward_backward": lambda: (
            torch.autograd.grad(loss(z.requires_grad_())[0], z),
            sync(),
        ),
    }
    median_interleaved(fns, 3)
    return median_interleaved(fns, repeat)


def _cdist_counts(test: torch.Tensor, support: torch.Tensor, n_branches: int, r: float) -> None:
    """Peer: per branch, ``torch.cdist(p=1)`` against every stored latent, then count."""
    d = test.shape[1] // n_branches
    total = torch.zeros(test.shape[0], support.shape[0], dtype=torch.int32)
    for b in range(n_branches):
        sl = slice(b * d, (b + 1) * d)
        dist = torch.cdist(test[:, sl], support[:, sl], p=1)
        total += (dist <= r).int()


def bench_one_class(n_test: int, n_train: int, peer_points: int, seed: int = 0) -> dict:
    """(b): the full evaluation and the extrapolated ``cdist`` peer."""
    rng = np.random.default_rng(seed)
    train = (rng.standard_normal((n_train, 160)) * 0.25).astype(np.float32)
    test = (rng.standard_normal((n_test, 160)) * 0.25).astype(np.float32)
    train_labels, test_labels = rng.integers(0, 10, n_train), rng.integers(0, 10, n_test)
    one_class_count_eval(train[:500], train_labels[:500], test[:64], test_labels[:64], 16, [3, 5])
    start = time.perf_counter()
    results = one_class_count_eval(train, train_labels, test, test_labels, 16, (80, 120, 500))
    eval_s = time.perf_counter() - start
    support = torch.from_numpy(results["500"].support_latents.reshape(-1, 160))
    support = support[~torch.isnan(support).any(1)]
    start = time.perf_counter()
    _cdist_counts(torch.from_numpy(test[:peer_points]), support, 16, 2.0)
    peer_s = (time.perf_counter() - start) * n_test / peer_points
    return {
        "n_test": n_test,
        "n_train": n_train,
        "classes": 10,
        "runs": 5,
        "m_values": [80, 120, 500],
        "eval_s": eval_s,
        "peer_cdist_extrapolated_s": peer_s,
        "peer_points": peer_points,
        "ratio_peer_over_eval": peer_s / eval_s,
        "target_s": 10.0,
        "mean_auc_m500": results["500"].mean_auc,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per variant")
    parser.add_argument("--repeat", type=int, default=30, help="repeats of the topological part")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--n-train", type=int, default=60_000)
    parser.add_argument("--peer-points", type=int, default=500)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--skip-one-class", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    step_samples = bench_step(args.steps, args.batch)
    step = {name: statistics.median(v) for name, v in step_samples.items()}
    topo = bench_topology(args.repeat, args.batch)
    plain = "step_plain_reconstruction"
    result: dict = {
        "batch": args.batch,
        "branches": 16,
        "branch_dim": 10,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "step_s": step,
        "topology_s": topo,
        "ratios": {
            "step_connectivity / plain": paired_ratio(step_samples, "step_connectivity", plain),
            "step_lambda0_logging / plain": paired_ratio(
                step_samples, "step_lambda0_with_death_time_logging", plain
            ),
            "step_looped_pairing / plain": paired_ratio(
                step_samples, "step_connectivity_looped_pairing", plain
            ),
            "step_connectivity / plain (ratio of medians)": step["step_connectivity"] / step[plain],
            "looped_pairing0 / batched_pairing0": topo["looped_pairing0"]
            / topo["batched_pairing0"],
            "ripser_per_branch / batched_pairing0": topo["ripser_per_branch"]
            / topo["batched_pairing0"],
        },
        "target_step_ratio": 1.15,
    }
    if not args.skip_one_class:
        result["one_class"] = bench_one_class(args.n_test, args.n_train, args.peer_points)
    if torch.cuda.is_available():
        cuda_samples = bench_step(args.steps, args.batch, "cuda")
        cuda_step = {name: statistics.median(v) for name, v in cuda_samples.items()}
        cuda_topo = bench_topology(args.repeat, args.batch, "cuda")
        result["cuda"] = {
            "device": torch.cuda.get_device_name(),
            "step_s": cuda_step,
            "topology_s": cuda_topo,
            "ratios": {
                "cpu / cuda step_connectivity": step["step_connectivity"]
                / cuda_step["step_connectivity"],
                "cpu / cuda batched_pairing0": topo["batched_pairing0"]
                / cuda_topo["batched_pairing0"],
                "cuda step_connectivity / plain": paired_ratio(
                    cuda_samples, "step_connectivity", plain
                ),
            },
        }
    else:
        result["cuda"] = "skipped: torch.cuda.is_available() is False"
    print_table(result)
    if args.json is not None:
        write_json(args.json, result)
    return result


def print_table(result: dict) -> None:
    print(f"batch={result['batch']}  torch threads={result['torch_threads']}")
    for title, key in (("training step", "step_s"), ("topological part", "topology_s")):
        print(f"\n{title:<40} {'median':>10}")
        for name, seconds in result[key].items():
            print(f"  {name:<38} {seconds * 1e3:>8.2f} ms")
    print()
    for name, ratio in result["ratios"].items():
        print(f"  {name:<46} {ratio:>8.2f}×")
    if "one_class" in result:
        oc = result["one_class"]
        print(
            f"\none-class eval: {oc['eval_s']:.2f} s (target ≤ {oc['target_s']:.0f} s); "
            f"cdist peer ≈ {oc['peer_cdist_extrapolated_s']:.1f} s"
        )
    print(
        f"cuda: {result['cuda'] if isinstance(result['cuda'], str) else result['cuda']['ratios']}"
    )


if __name__ == "__main__":
    main()
