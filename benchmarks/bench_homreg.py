"""Homological regularisation: training-step overhead and the cost of a generative evaluation.

    python benchmarks/bench_homreg.py [--batches 128 512] [--repeat 21] [--root DATA] [--json PATH]

(a) One Adam step of the generative MLP autoencoder (784-64-64-n) with the homological loss
    against the plain autoencoder step, at each batch size, and the original code's approach as
    the peer: gudhi ``RipsComplex(max_edge_length=0.5)`` + ``flag_persistence_generators`` per
    batch, the death edges' lengths recomputed in torch. Each repeat times the three steps one
    after the other on the calling thread's CPU clock (one torch thread: the step's own work, not
    the time other processes take from it; wall times are kept beside); a ratio is the median over
    the repeats of the ratio within a repeat, so a load that drifts between repeats cancels. The
    ratios (target: regularised / plain ≤ 1.2×) are what to compare across machines.
(b) The full generative evaluation of one model: 10,000 prior samples decoded and scored on every
    metric (classifier features and logits of samples and real test images, FID, KID with 100
    subsets of 1,000, precision / recall / density / coverage with k = 5, Inception score, class
    coverage) plus the test-set latent metrics (reconstruction BCE, fraction in the ball, 0-dim
    total persistence of the test latent batches); target ≤ 60 s on 2 cores. Also timed: the
    same with the real set's classifier outputs computed once beforehand (what a sweep does).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import timeit
from collections.abc import Callable
from pathlib import Path

import gudhi
import torch
from torch.nn import functional as F

from topoexp.evaluation.generative import (
    classifier_outputs,
    evaluate_generator,
    evaluate_samples,
    fid_kid,
)
from topoexp.evaluation.latents import latent_metrics
from topoexp.evaluation.prdc import prdc
from topoexp.io import write_json
from topoexp.losses.homological import BallPenalty
from topoexp.losses.objective import Objective
from topoexp.losses.regularisers import Homological
from topoexp.models.classifier import SmallCNN, load_classifier
from topoexp.models.generative import GenerativeAE
from topoexp.topology.deaths import death_times0


def repeat_times(
    fns: dict[str, Callable[[], object]], repeat: int
) -> dict[str, dict[str, list[float]]]:
    """Seconds per call in ``repeat`` interleaved repeats of ~20 ms each, wall and thread CPU.

    ``cpu`` is the calling thread's CPU time (``time.thread_time``): with one torch thread every
    op, autograd's backward and the numba kernel run on this thread, so it counts the step's own
    work and not the time other processes on shared cores take from it (the wall clock does).
    """
    numbers = {
        name: max(1, int(0.02 / max(min(timeit.repeat(fn, repeat=3, number=1)), 1e-9)))
        for name, fn in fns.items()
    }
    samples: dict[str, dict[str, list[float]]] = {
        clock: {name: [] for name in fns} for clock in ("wall", "cpu")
    }
    for _ in range(repeat):
        for name, fn in fns.items():
            n = numbers[name]
            wall, cpu = time.perf_counter(), time.thread_time()
            for _ in range(n):
                fn()
            samples["cpu"][name].append((time.thread_time() - cpu) / n)
            samples["wall"][name].append((time.perf_counter() - wall) / n)
    return samples


def finite_deaths(z: torch.Tensor, cutoff: float = 0.5) -> torch.Tensor:
    """Ours: the finite deaths of the Rips complex with edges ≤ cutoff."""
    deaths = death_times0(z, cutoff=cutoff).deaths
    return deaths[torch.isfinite(deaths)]


def gudhi_death_times(z: torch.Tensor, cutoff: float = 0.5) -> torch.Tensor:
    """The original's deaths: gudhi Rips with the cutoff, generators, lengths recomputed."""
    tree = gudhi.RipsComplex(points=z.detach().numpy(), max_edge_length=cutoff)
    st = tree.create_simplex_tree(max_dimension=0)
    st.compute_persistence()
    edges = torch.from_numpy(st.flag_persistence_generators()[0][:, 1:].astype("int64"))
    return torch.linalg.vector_norm(z[edges[:, 0]] - z[edges[:, 1]], dim=1)


#: Latent geometries timed: at initialisation (codes of norm ≈ 0.3: every MST edge is below the
#: cutoff and gudhi's complex is dense) and spread as a trained regularised model's (the encoder's
#: output scaled to a mean norm of 0.9 in the unit ball: few edges below the cutoff).
GEOMETRIES = {"init": None, "spread": 0.9}


def training_steps(batch: int, latent_dim: int, repeat: int, seed: int, geometry: str) -> dict:
    """Seconds per step of the plain AE, ours, and the gudhi peer; and their ratios.

    Adam runs with lr = 0: the step does all of Adam's arithmetic, but the latent geometry, on
    which the peer's cost depends (edges ≤ 0.5 enter its complex), stays as set while timing.
    """
    torch.manual_seed(seed)
    x = torch.rand(batch, 784)
    models, opts = {}, {}
    for name, reg in (("plain", False), ("ours", True), ("gudhi", False)):
        torch.manual_seed(seed)
        model = GenerativeAE(latent_dim=latent_dim)
        # the objective the generative task trains: loss=homological, or loss=none
        models[name] = Objective(model, {"homological": Homological()} if reg else {})
        if GEOMETRIES[geometry] is not None:
            with torch.no_grad():
                scale = GEOMETRIES[geometry] / model.encode(x).norm(dim=1).mean()
                model.encoder[-1].weight.mul_(scale)
                model.encoder[-1].bias.mul_(scale)
        opts[name] = torch.optim.Adam(model.parameters(), lr=0.0)
    ball, coef = BallPenalty("squared"), 5e-3

    def gudhi_loss(objective: Objective) -> torch.Tensor:
        m = objective.model
        z = m.encode(x)
        top = ball(z) - gudhi_death_times(z).sum()
        return F.binary_cross_entropy(m.decode(z), x) + coef * top

    def step(name: str) -> Callable[[], None]:
        model, opt = models[name], opts[name]

        def run() -> None:
            loss = gudhi_loss(model) if name == "gudhi" else model.loss(x)[0]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return run

    with torch.no_grad():  # the peer computes the same deaths (guards against timing a bug)
        z = models["ours"].encode(x)
        ours_sum, peer_sum = finite_deaths(z).sum(), gudhi_death_times(z).sum()
        torch.testing.assert_close(ours_sum, peer_sum, rtol=1e-5, atol=1e-5)
    samples = repeat_times({name: step(name) for name in models}, repeat)
    result: dict = {"batch": batch, "latent_dim": latent_dim, "geometry": geometry}
    result["mean_latent_norm"] = float(z.norm(dim=1).mean())
    for clock, per_model in samples.items():
        suffix = "" if clock == "cpu" else "_wall"
        result["seconds" + suffix] = {n: statistics.median(v) for n, v in per_model.items()}

        def paired(a: str, b: str, per_model: dict = per_model) -> float:
            """Median over the repeats of a/b within a repeat (the load drifts between them)."""
            return statistics.median(x / y for x, y in zip(per_model[a], per_model[b], strict=True))

        result["ratios" + suffix] = {
            "regularised / plain": paired("ours", "plain"),
            "gudhi peer / plain": paired("gudhi", "plain"),
            "gudhi peer / regularised": paired("gudhi", "ours"),
        }
    return result | {
        "n_deaths_at_init": int((finite_deaths(z) > 0).sum()),
    }


def load_reference(root: Path | None, n: int) -> tuple[torch.Tensor, str]:
    """MNIST test images when ``root`` holds them, else uniform noise of the same shape."""
    if root is not None:
        from topoexp.evaluation.image_tensors import image_tensors

        try:
            return image_tensors("mnist", root, "test")[0][:n], "mnist test"
        except FileNotFoundError:
            pass
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)), "uniform noise"


def evaluation(root: Path | None, n: int, latent_dim: int, seed: int) -> dict:
    """Wall-clock seconds of one model's full generative evaluation, stage by stage."""
    try:
        classifier, features = load_classifier("mnist"), "committed MNIST classifier"
    except (KeyError, FileNotFoundError):
        torch.manual_seed(seed)
        classifier, features = SmallCNN().eval(), "untrained SmallCNN (no committed weights)"
    real, reference = load_reference(root, n)
    torch.manual_seed(seed)
    model = GenerativeAE(latent_dim=latent_dim)
    Objective(model, {"homological": Homological()})  # prior auto -> the unit ball, as trained
    evaluate_samples(real[:200], real[:300], classifier, kid_subsets=2, kid_subset_size=100)
    latent_metrics(model, real[:256])  # warm-up: imports, numba
    stages: dict[str, float] = {}
    start = time.perf_counter()
    real_out = classifier_outputs(classifier, real)
    stages["classifier outputs of the real set"] = time.perf_counter() - start
    t = time.perf_counter()
    _, metrics = evaluate_generator(model, real, classifier, n_samples=n, seed=seed, real=real_out)
    stages["evaluate_generator (samples, every metric)"] = time.perf_counter() - t
    total = time.perf_counter() - start
    # The stages of evaluate_generator, timed separately once more:
    samples = model.generate(n, torch.Generator().manual_seed(seed))
    parts: dict[str, float] = {}
    t = time.perf_counter()
    fake_out = classifier_outputs(classifier, samples)
    parts["classifier outputs of the samples"] = time.perf_counter() - t
    t = time.perf_counter()
    fid_kid(real_out.features, fake_out.features, seed=seed)
    parts["FID + KID (torchmetrics)"] = time.perf_counter() - t
    t = time.perf_counter()
    prdc(real_out.features, fake_out.features, 5)
    parts["precision, recall, density, coverage"] = time.perf_counter() - t
    t = time.perf_counter()
    latent_metrics(model, real)
    parts["latent metrics of the test set"] = time.perf_counter() - t
    return {
        "n_samples": n,
        "reference": reference,
        "classifier": features,
        "seconds_total": total,
        "seconds_per_model_with_cached_real_features": stages[
            "evaluate_generator (samples, every metric)"
        ],
        "stages_s": stages,
        "parts_s": parts,
        "metrics": metrics,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="*", default=[128, 512])
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=21, help="timeit repeats (median)")
    parser.add_argument("--step-threads", type=int, default=1, help="torch threads for (a)")
    parser.add_argument("--eval-threads", type=int, default=2, help="torch threads for (b)")
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--root", type=Path, default=None, help="data root holding MNIST")
    parser.add_argument("--skip-eval", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    result: dict = {"cpu_count": os.cpu_count(), "load_average_start": os.getloadavg()}
    torch.set_num_threads(args.step_threads)
    result["step_threads"] = args.step_threads
    result["training_step"] = [
        training_steps(b, args.latent_dim, args.repeat, args.seed, geometry)
        for geometry in GEOMETRIES
        for b in args.batches
    ]
    for row in result["training_step"]:
        s = row["seconds"]
        print(
            f"{row['geometry']:>6} batch {row['batch']:>4} (thread CPU): plain "
            f"{s['plain'] * 1e3:6.2f} ms  regularised {s['ours'] * 1e3:6.2f} ms  gudhi peer "
            f"{s['gudhi'] * 1e3:6.2f} ms  ratios "
            + "  ".join(f"{k} {v:.2f}×" for k, v in row["ratios"].items())
            + "  (wall: "
            + "  ".join(f"{k} {v:.2f}×" for k, v in row["ratios_wall"].items())
            + ")"
        )
    if not args.skip_eval:
        torch.set_num_threads(args.eval_threads)
        result["eval_threads"] = args.eval_threads
        ev = evaluation(args.root, args.n_samples, args.latent_dim, args.seed)
        result["evaluation"] = ev
        print(
            f"\nevaluation of {ev['n_samples']} samples vs {ev['reference']} ({ev['classifier']})"
        )
        for name, seconds in ev["stages_s"].items():
            print(f"  {name:<48} {seconds:7.2f} s")
        print(f"  {'total':<48} {ev['seconds_total']:7.2f} s")
        print("  of which:")
        for name, seconds in ev["parts_s"].items():
            print(f"    {name:<46} {seconds:7.2f} s")
    result["load_average_end"] = os.getloadavg()
    if args.json is not None:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
