"""Cost of a TopoAE training step relative to the plain autoencoder step, measured in one run.

Both models use the same architecture (DeepAE on MNIST-shaped batches of 126 by default, the
TopoAE best run) and the same optimiser, each trained as a run trains it (its ``Objective``, with
``loss=signature`` or ``loss=none``); the steps alternate so machine load affects both alike.
The ratio TopoAE / AE is what the topological loss costs (target ≤ 1.2×).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from topoexp.io import write_json
from topoexp.losses.objective import Objective
from topoexp.losses.regularisers import TopologicalSignature
from topoexp.models.autoencoders import DeepAE, MLPAutoencoder


def _models(arch: str, shape: tuple[int, ...]) -> tuple[torch.nn.Module, torch.nn.Module]:
    def base() -> torch.nn.Module:
        return DeepAE(input_shape=shape) if arch == "deep" else MLPAutoencoder(input_shape=shape)

    torch.manual_seed(0)
    ae = Objective(base(), {})
    torch.manual_seed(0)
    topo = Objective(base(), {"signature": TopologicalSignature(weight=0.500297)})
    return ae, topo


def _step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor) -> float:
    start = time.perf_counter()
    loss, _ = model.loss(x)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=["deep", "mlp"], default="deep")
    parser.add_argument("--batch", type=int, default=126)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    shape = (1, 28, 28) if args.arch == "deep" else (101,)
    ae, topo = _models(args.arch, shape)
    optimisers = {
        m: torch.optim.Adam(m.parameters(), lr=1e-4, weight_decay=1e-5, foreach=True)
        for m in (ae, topo)
    }
    x = torch.rand(args.batch, *shape) * 2 - 1
    for _ in range(5):  # warm-up, numba compilation included
        for model in (ae, topo):
            _step(model, optimisers[model], x)
    times: dict[str, list[float]] = {"ae": [], "topoae": []}
    for _ in range(args.steps):
        times["ae"].append(_step(ae, optimisers[ae], x))
        times["topoae"].append(_step(topo, optimisers[topo], x))
    ae_ms = statistics.median(times["ae"]) * 1e3
    topo_ms = statistics.median(times["topoae"]) * 1e3
    result = {
        "arch": args.arch,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "ae_step_ms": ae_ms,
        "topoae_step_ms": topo_ms,
        "ratio_topoae_over_ae": topo_ms / ae_ms,
        "target_ratio": 1.2,
    }
    print(f"{'model':<8}{'median step (ms)':>18}")
    print(f"{'AE':<8}{ae_ms:>18.2f}\n{'TopoAE':<8}{topo_ms:>18.2f}")
    print(f"TopoAE / AE = {result['ratio_topoae_over_ae']:.2f}x (target <= 1.2x)")
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
