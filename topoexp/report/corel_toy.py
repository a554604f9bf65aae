"""COREL's toy example (Figure 2, spec §A.2): ``python -m topoexp.report.corel_toy --out DIR``.

Three Gaussians (1,500 points) mapped by an MLP ``R² → R²`` trained on the connectivity loss
alone (η = 2, batch 50); (α̂, ε̂, β̂) over 3,000 random batches of 50 of the input points and of
the mapped points after 20 and 60 epochs (two trainings from the same initialisation).
Writes ``toy.json`` and ``toy.png`` (input, epoch 20, epoch 60).
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from topoexp import io
from topoexp.evaluation.death_times import death_time_summary
from topoexp.losses.connectivity_toy import ToyMLP, three_gaussians, train_toy

__all__ = ["main", "toy_panels", "toy_run"]

#: The paper's Figure 2 triples (α̂, ε̂, β̂): input, epoch 20, epoch 60.
PAPER = {
    "input": (0.08, 0.96, 4.71),
    "epoch 20": (0.23, 1.67, 4.63),
    "epoch 60": (0.24, 1.65, 4.01),
}


def toy_run(
    epochs: tuple[int, int] = (20, 60),
    hidden: tuple[int, ...] = (20, 20),
    n_batches: int = 3000,
    seed: int = 0,
) -> dict:
    """Train twice from the same initialisation (to epochs[0] and epochs[1]); return the
    summaries and the mapped points of each."""
    torch.manual_seed(seed)
    x, component = three_gaussians(500, seed=seed)
    init = ToyMLP(hidden)
    out: dict = {
        "points": {"input": x},
        "component": component,
        "summary": {"input": death_time_summary(x, n_batches=n_batches, seed=seed)},
    }
    for epoch in epochs:
        model = copy.deepcopy(init)
        summaries = train_toy(
            model, x, epochs=epoch, report_at=(epoch,), n_batches=n_batches, seed=seed
        )
        with torch.no_grad():
            out["points"][f"epoch {epoch}"] = model(torch.as_tensor(x)).numpy()
        out["summary"][f"epoch {epoch}"] = summaries[epoch]
    return out


def _triple(summary) -> tuple[float, float, float]:
    return (float(summary.alpha[0]), float(summary.epsilon[0]), float(summary.beta[0]))


def toy_panels(result: dict) -> Figure:
    """The input points and the mapped points, coloured by Gaussian, titled by (α̂, ε̂, β̂)."""
    fig = Figure(figsize=(11, 3.6))
    axes = fig.subplots(1, len(result["points"]))
    for ax, (name, points) in zip(axes, result["points"].items(), strict=True):
        ax.scatter(points[:, 0], points[:, 1], c=result["component"], s=3, cmap="viridis")
        a, e, b = _triple(result["summary"][name])
        pa, pe, pb = PAPER.get(name, (np.nan,) * 3)
        ax.set_title(
            f"{name}: (α̂, ε̂, β̂) = ({a:.2f}, {e:.2f}, {b:.2f})\npaper: ({pa}, {pe}, {pb})",
            fontsize=8,
        )
        ax.set_aspect("equal", adjustable="datalim")
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--hidden", type=int, nargs="+", default=[20, 20])
    parser.add_argument("--n-batches", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = toy_run(hidden=tuple(args.hidden), n_batches=args.n_batches, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {
        name: dict(zip(("alpha", "epsilon", "beta"), _triple(s), strict=True))
        for name, s in result["summary"].items()
    }
    paper = {k: dict(zip(("alpha", "epsilon", "beta"), v, strict=True)) for k, v in PAPER.items()}
    io.write_json(
        args.out / "toy.json",
        {"hidden": args.hidden, "seed": args.seed, "ours": summary, "paper": paper},
    )
    io.save_figure(args.out / "toy.png", toy_panels(result), dpi=150, bbox_inches="tight")
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
