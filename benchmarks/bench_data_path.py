"""The data path: one MNIST epoch of batches held on the device against the DataLoader (CPU).

    python benchmarks/bench_data_path.py [--root DATA] [--repeat 3] [--json PATH]

For the TopoAE transform (ToTensor, Normalize; batch 64) and COREL's 32 × 32 resize (batch 100),
one pass over the 60,000 training images as the trainer draws them: ``trainer.batches=memory``
(the split materialised once as uint8, or as the transform's floats; a batch is an index gather
from the DataLoader's permutation, :class:`topoexp.training.batches.MemoryBatches`) against
``trainer.batches=loader`` (a DataLoader applying the transform per item). Both yield the same
batches in the same order (checked here on the first batches). The memory path's one-time
materialisation is timed apart. Wall clock, 1 torch thread; median of ``--repeat``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from topoexp.data.images import load_image_dataset
from topoexp.io import write_json
from topoexp.training.batches import LoaderBatches, MemoryBatches, materialise

CASES = {"topoae": 64, "corel32": 100}


def _epoch(batches) -> float:
    started = time.perf_counter()
    for _ in batches:
        pass
    return time.perf_counter() - started


def bench(root: Path, transform: str, batch_size: int, repeat: int) -> dict:
    splits = load_image_dataset("mnist", str(root), transform=transform)
    fit = splits.split("fit")
    started = time.perf_counter()
    stored = materialise(fit, "cpu")
    materialise_s = time.perf_counter() - started

    def memory() -> MemoryBatches:
        return MemoryBatches(stored, batch_size, True, True, torch.Generator().manual_seed(0))

    def loader() -> LoaderBatches:
        g = torch.Generator().manual_seed(0)
        return LoaderBatches(fit, batch_size, True, True, g, "cpu")

    for a, b, _ in zip(memory(), loader(), range(3), strict=False):
        assert torch.equal(a, b), "the two paths must give the same batches"
    times = {"memory": [], "loader": []}
    for _ in range(repeat):
        times["memory"].append(_epoch(memory()))
        times["loader"].append(_epoch(loader()))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "transform": transform,
        "batch_size": batch_size,
        "materialise_s": materialise_s,
        "memory_epoch_s": med["memory"],
        "loader_epoch_s": med["loader"],
        "loader_over_memory": med["loader"] / med["memory"],
        "times": times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--root", type=Path, default=Path(os.environ.get("TOPOEXP_DATA_DIR", "data"))
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = [bench(args.root, t, b, args.repeat) for t, b in CASES.items()]
    for r in results:
        print(
            f"{r['transform']:>8}: memory {r['memory_epoch_s']:.2f} s per epoch (+ "
            f"{r['materialise_s']:.1f} s once), loader {r['loader_epoch_s']:.2f} s: "
            f"{r['loader_over_memory']:.0f}× faster"
        )
    if args.json:
        write_json(args.json, {"threads": 1, "results": results})


if __name__ == "__main__":
    main()
