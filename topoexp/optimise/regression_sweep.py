"""The regression experiments of the TopologyLayer paper (Figures 5 and 6, spec B.4 a and c).

Every fit is the authors' ``penalized_ls``: β started at the minimum-norm least-squares solution,
then Adam (lr 0.1) on ``MSE(y, Xβ) + λ · P(β)``; OLS is the start itself. All trials and λ of one
(β*, n, penalty) are fitted at once as one batch: Adam acts coordinate-wise and the batch loss is
a sum of independent problems, so each problem gets exactly its own updates.

Studies:

- ``alpha`` (Figure 5, ``alpha.py``): β* from {1, 2, 3} and {−1, 0, 1}; OLS, L1, L2, Top1, Top2
  on the weak alpha H0 diagram of the values of β (Top1 = E(1, 0, 2; PD0) = the sum of the finite
  bars, Top2 = E(1, 0, 4; PD0) = all but the 2 longest finite bars); σ = 0.05; λ ∈ logspace(−4,
  1, 20); n ∈ {25, 35, ..., 135}; 10 trials; 100 steps. λ per trial by the oracle: the grid value
  with the least prediction MSE on 10,000 fresh noise-free rows; that MSE is recorded.
- ``levelset`` (Figure 6, ``levelset.py``): sawtooth, boxcar and sinusoid β*; OLS, TV, smooth TV,
  Top1, Top2 on the superlevel-set H0 diagram of β on the path; σ = 0.1 (the code; the paper
  says 0.05: ``--sigma``); λ ∈ logspace(−3, 0, 10); n ∈ {25, ..., 135}; λ per n minimising the
  mean ‖β̂ − β*‖² over 50 trials, then 100 new trials at that λ; 200 steps; recorded:
  ‖β̂ − β*‖² (its expectation is the prediction MSE, X having identity covariance).

Difference from the code: within one (β*, n), all penalties and λ see the same trials (common
random numbers), which makes the comparison between penalties less noisy.

Usage: ``python -m topoexp.optimise.regression_sweep --study alpha --out DIR`` (``--help``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from topoexp.data.regression import (
    beta_star,
    min_norm_least_squares,
    prediction_mse,
    regression_data,
)
from topoexp.optimise.penalties import BarcodePenalty, NormPenalty
from topoexp.topology import AlphaLayer, LevelSetLayer1D
from topoexp.training.engine import Engine
from topoexp.training.schedule import Iterations
from topoexp.training.steps import GradientStep

__all__ = ["STUDIES", "Study", "fit_batch", "penalty_for", "run_study"]

TOP1 = [{"dim": 0, "p": 1.0, "i0": 1}]  # E(1, 0, 2; PD0) counting the infinite bar
TOP2 = [{"dim": 0, "p": 1.0, "i0": 3}]  # E(1, 0, 4; PD0)


@dataclass
class Study:
    """One experiment's protocol (defaults: the authors' code)."""

    name: str
    betas: list[str]
    methods: list[str]
    sigma: float
    lams: list[float]
    ns: list[int]
    steps: int
    selection: str  # "oracle" (per trial) or "cv" (per n, then fresh trials)
    trials: int
    cv_trials: int = 0
    p: int = 100
    lr: float = 0.1
    quantiles: tuple[float, float] = (2.5, 87.5)
    extra: dict[str, str] = field(default_factory=dict)


STUDIES = {
    "alpha": Study(
        name="alpha",
        betas=["123", "101"],
        methods=["ols", "l1", "l2", "top1", "top2"],
        sigma=0.05,
        lams=np.logspace(-4, 1, 20).tolist(),
        ns=list(range(25, 136, 10)),
        steps=100,
        selection="oracle",
        trials=10,
    ),
    "levelset": Study(
        name="levelset",
        betas=["sawtooth", "boxcar", "sinusoid"],
        methods=["ols", "tv", "smooth_tv", "top1", "top2"],
        sigma=0.1,
        lams=np.logspace(-3, 0, 10).tolist(),
        ns=list(range(25, 136, 10)),
        steps=200,
        selection="cv",
        trials=100,
        cv_trials=50,
    ),
}


def penalty_for(study: str, method: str, p: int) -> nn.Module:
    """The penalty (λ = 1) of ``method`` in ``study``: norms, or barcode energies of the weak
    alpha filtration of the values (``alpha``) / the superlevel sets on the path (``levelset``)."""
    if method in ("l1", "l2", "tv", "smooth_tv"):
        return NormPenalty(method, 1.0)
    terms = {"top1": TOP1, "top2": TOP2}[method]
    layer = AlphaLayer(maxdim=0) if study == "alpha" else LevelSetLayer1D(p, sublevel=False)
    return BarcodePenalty(layer, terms)


def fit_batch(
    X: Tensor, y: Tensor, start: Tensor, penalty: nn.Module, lams: Tensor, steps: int, lr: float
) -> Tensor:
    """Adam on ``Σ_{l,t} MSE_t(β_lt) + λ_l P(β_lt)`` from ``start``; the fits ``(L, T, p)``.

    ``X (T, n, p)``, ``y (T, n)`` and ``start (T, p)`` are the trials' data, shared by the ``L``
    values of ``lams``: the predictions of all λ are one matrix product per trial.
    """
    L, (T, p) = len(lams), start.shape
    beta = start.expand(L, T, p).clone().requires_grad_(True)
    opt = torch.optim.Adam([beta], lr=lr)
    lam = lams.to(start.dtype)[:, None]

    def objective(_: int) -> tuple[Tensor, dict[str, float]]:
        pred = X @ beta.permute(1, 2, 0)  # (T, n, L)
        mse = (pred - y.unsqueeze(-1)).square().mean(1).T  # (L, T)
        pen = penalty(beta.reshape(L * T, p), batched=True).reshape(L, T)
        return (mse + lam * pen).sum(), {}

    # the problems are independent: one that diverges must not stop the others
    step = GradientStep(objective, opt, {}, name="beta", check_finite=False)
    Engine(
        step, Iterations(steps, record_every=max(steps, 1), checkpoint_every=max(steps, 1))
    ).fit()
    return beta.detach()


def _draw(study: Study, kind: str, n: int, trials: int, g: torch.Generator):
    """β* ``(T, p)``, X, y (float32) and the OLS start for ``trials`` fresh problems."""
    beta = beta_star(kind, study.p, (trials,), generator=g)
    X, y = regression_data(beta, n, study.sigma, generator=g)
    start = min_norm_least_squares(X, y).float()
    return beta, X.float(), y.float(), start


def _fit_grid(study: Study, method: str, X, y, start, lams: list[float]) -> Tensor:
    """Fits ``(L, T, p)`` of ``method`` for every λ of ``lams``."""
    penalty = penalty_for(study.name, method, study.p)
    lam = torch.tensor(lams, dtype=torch.float32)
    return fit_batch(X, y, start, penalty, lam, study.steps, study.lr)


def _sq_error(beta_hat: Tensor, beta: Tensor) -> Tensor:
    return (beta_hat.double() - beta).square().sum(-1)


def run_cell(study: Study, kind: str, n: int, seed: int) -> list[dict]:
    """Rows (one per method and trial) for one β* kind and sample size."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    if study.selection == "oracle":
        beta, X, y, start = _draw(study, kind, n, study.trials, g)
        for method in study.methods:
            test_g = torch.Generator().manual_seed(seed + 1)  # the same test rows for all
            if method == "ols":
                fits, lam_idx = start[None], torch.zeros(study.trials, dtype=torch.long)
                mse = prediction_mse(start.double(), beta, generator=test_g)[None]
            else:
                fits = _fit_grid(study, method, X, y, start, study.lams)
                mse = prediction_mse(fits.double(), beta[None], generator=test_g)
                lam_idx = mse.argmin(0)
            t = torch.arange(study.trials)
            best = fits[lam_idx, t]
            rel = _sq_error(best, beta) / beta.square().sum(-1)
            for k in range(study.trials):
                rows.append(
                    {
                        "method": method,
                        "trial": k,
                        "lam": None if method == "ols" else study.lams[int(lam_idx[k])],
                        "error": float(mse[lam_idx[k], k]),
                        "relative_error": float(rel[k]),
                    }
                )
        return rows
    beta_cv, X_cv, y_cv, start_cv = _draw(study, kind, n, study.cv_trials, g)
    beta, X, y, start = _draw(study, kind, n, study.trials, g)
    for method in study.methods:
        if method == "ols":
            best, lam = start, None
        else:
            cv = _sq_error(_fit_grid(study, method, X_cv, y_cv, start_cv, study.lams), beta_cv)
            lam = study.lams[int(cv.mean(1).argmin())]
            best = _fit_grid(study, method, X, y, start, [lam])[0]
        err = _sq_error(best, beta)
        rel = err / beta.square().sum(-1)
        for k in range(study.trials):
            rows.append(
                {
                    "method": method,
                    "trial": k,
                    "lam": lam,
                    "error": float(err[k]),
                    "relative_error": float(rel[k]),
                }
            )
    return rows


def run_study(study: Study, seed: int = 0, log=print) -> list[dict]:
    """All rows of ``study``; each (β*, n) cell has its own seed derived from ``seed``."""
    out = []
    for b, kind in enumerate(study.betas):
        for n in study.ns:
            t0 = time.perf_counter()
            cell_seed = seed * 1_000_003 + 1000 * b + n
            for row in run_cell(study, kind, n, cell_seed):
                out.append({"beta": kind, "n": n, "sigma": study.sigma, **row})
            log(f"{study.name} {kind} n={n}: {time.perf_counter() - t0:.1f} s")
    return out


def summarise(rows: list[dict], quantiles: tuple[float, float]) -> list[dict]:
    """Mean and quantiles of the error per (β*, n, method), and the median chosen λ."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["beta"], r["n"], r["method"]), []).append(r)
    out = []
    for (kind, n, method), rs in groups.items():
        err = np.array([r["error"] for r in rs])
        lams = [r["lam"] for r in rs if r["lam"] is not None]
        lo, hi = np.percentile(err, quantiles)
        out.append(
            {
                "beta": kind,
                "n": n,
                "method": method,
                "mean": float(err.mean()),
                "q_lo": float(lo),
                "q_hi": float(hi),
                "lam": float(np.median(lams)) if lams else math.nan,
                "trials": len(rs),
            }
        )
    return out


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", choices=sorted(STUDIES), required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for the CSV files")
    parser.add_argument("--sigma", type=float, help="noise level (default: the code's)")
    parser.add_argument("--ns", type=int, nargs="+", help="sample sizes (default: the code's)")
    parser.add_argument("--trials", type=int, help="trials (default: the code's)")
    parser.add_argument("--cv-trials", type=int, help="trials choosing λ (cv studies)")
    parser.add_argument("--betas", nargs="+", help="β* kinds (default: the study's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    study = STUDIES[args.study]
    for key in ("sigma", "ns", "trials", "cv_trials", "betas"):
        value = getattr(args, key)
        if value is not None:
            setattr(study, key, value)
    tag = f"{study.name}_sigma{study.sigma:g}"
    t0 = time.perf_counter()
    rows = run_study(study, args.seed)
    seconds = time.perf_counter() - t0
    write_csv(args.out / f"{tag}_trials.csv", rows)
    write_csv(args.out / f"{tag}_summary.csv", summarise(rows, study.quantiles))
    meta = {k: v for k, v in vars(study).items()}
    meta |= {"seed": args.seed, "threads": args.threads, "seconds": round(seconds, 1)}
    (args.out / f"{tag}_protocol.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"{tag}: {len(rows)} rows in {seconds:.0f} s")


if __name__ == "__main__":
    main()
