"""The generator prior's cost: a generator step with the topology loss against the plain GAN step.

    python benchmarks/bench_generator_prior.py [--repeat 21] [--checkpoint PT] [--json PATH]

One Adam step of the vanilla-GAN generator (100-128-256-512-1024-784, batch 64) on

- ``plain``: the adversarial loss through the discriminator (the GAN's generator step, the peer);
- ``prior_<complex>``: E(1, 0, 2; PD0) of the superlevel sets of the 64 generated 28 × 28 images
  (the Topology-Generator's step), on the ``delaunay`` (the experiments') and ``freudenthal``
  triangulations;
- ``gan_iteration``: a whole GAN iteration (generator step and discriminator step), for scale.

Medians over interleaved timeit repeats on one thread; the ratios (target: prior / plain ≤ 3×)
are what to compare across machines, the ratios of the fastest repeats are also given. The prior's
own forward pass and its persistence kernel are timed alone too. ``--checkpoint`` loads a trained
generator (a ``last.pt`` of the GAN task) so the images have a trained generator's topology.
"""

from __future__ import annotations

import argparse
import os
import statistics
import timeit
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from topoexp.io import write_json
from topoexp.losses.topology_prior import TopologyPrior
from topoexp.models.gan import GAN


def repeat_times(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Seconds per call in each of ``repeat`` interleaved timeit repeats of ~20 ms each."""
    timers = {name: timeit.Timer(fn) for name, fn in fns.items()}
    numbers = {
        name: max(1, int(0.02 / max(min(t.repeat(repeat=3, number=1)), 1e-9)))
        for name, t in timers.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, timer in timers.items():
            samples[name].append(timer.timeit(numbers[name]) / numbers[name])
    return samples


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    gan = GAN()
    if args.checkpoint is not None:
        payload = torch.load(args.checkpoint, weights_only=False)
        gan.generator.load_state_dict(payload["modules"]["generator"])
        gan.discriminator.load_state_dict(payload["modules"]["discriminator"])
    g, d = gan.generator, gan.discriminator
    # lr 0: every step does Adam's arithmetic but the generator (and its images) stays as loaded
    opt_g = torch.optim.Adam(g.parameters(), lr=0.0, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=0.0, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    z = torch.randn(args.batch, gan.latent_dim, generator=torch.Generator().manual_seed(1))
    real = torch.rand(args.batch, 1, 28, 28) * 2 - 1
    ones, zeros = torch.ones(args.batch), torch.zeros(args.batch)
    priors = {k: TopologyPrior(complex=k) for k in ("delaunay", "freudenthal")}

    def generator_step(loss_fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            loss = loss_fn(g(z))
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()

        return run

    def gan_iteration() -> None:
        fake = g(z)
        loss = bce(d(fake), ones)
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        loss_d = (bce(d(real), ones) + bce(d(fake.detach()), zeros)) / 2
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

    with torch.no_grad():
        images = g(z)
    fns: dict[str, Callable[[], object]] = {"plain": generator_step(lambda x: bce(d(x), ones))}
    for name, prior in priors.items():
        fns[f"prior_{name}"] = generator_step(prior)
        fns[f"prior_forward_{name}"] = lambda p=prior: p(images)
    fns["gan_iteration"] = gan_iteration
    samples = repeat_times(fns, args.repeat)
    med = {k: statistics.median(v) for k, v in samples.items()}
    low = {k: min(v) for k, v in samples.items()}
    result = {
        "batch": args.batch,
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "generator": "checkpoint" if args.checkpoint else "random init",
        "mean_topology_loss": float(priors["delaunay"](images)),
        "seconds": med,
        "seconds_min": low,
        "ratios": {f"prior_{k} / plain": med[f"prior_{k}"] / med["plain"] for k in priors},
        "ratios_of_minima": {
            f"prior_{k} / plain": low[f"prior_{k}"] / low["plain"] for k in priors
        },
        "target": "prior / plain <= 3",
    }
    for key, value in result["ratios"].items():
        print(f"{key}: {value:.2f}x (medians; minima {result['ratios_of_minima'][key]:.2f}x)")
    print({k: f"{v * 1e3:.1f} ms" for k, v in med.items()})
    if args.json is not None:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
