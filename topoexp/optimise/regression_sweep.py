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

Run as a task (:mod:`topoexp.tasks.regression_sweep`): ``python -m topoexp
+experiment=toplayer/regression_sweep/alpha`` (``levelset``, ``levelset_sigma0.05``); the problems
are the ``dataset`` (:class:`RegressionDraws`), the fits and the selection of λ the task's keys.
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
from annotated_types import Ge
from torch import Tensor, nn

from topoexp.config.markers import ArgumentError
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

__all__ = [
    "METHODS",
    "STUDIES",
    "RegressionDraws",
    "Study",
    "fit_batch",
    "penalty_for",
    "run_study",
    "summarise",
    "write_study",
]

#: The penalties a study compares (``ols``: the start itself, no fit).
METHODS = ("ols", "l1", "l2", "tv", "smooth_tv", "top1", "top2")
Method = Literal["ols", "l1", "l2", "tv", "smooth_tv", "top1", "top2"]
BetaKind = Literal["123", "101", "sinusoid", "sawtooth", "boxcar"]

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


class RegressionDraws:
    """The problems of a regression sweep: for each β* kind of ``betas`` and each sample size of
    ``ns``, ``trials`` fresh problems ``y = X β* + σ ε`` with ``p`` coefficients (and, for a
    cross-validated choice of λ, ``cv_trials`` more drawn first). Seeded per (β*, n) by the run.

    Args:
        name: the data's name in the run's records.
        betas: kinds of :func:`topoexp.data.regression.beta_star`.
        p: coefficients; sigma: noise level (alpha.py 0.05, levelset.py 0.1).
        ns: sample sizes; trials: problems per (β*, n); cv_trials: problems choosing λ.
    """

    def __init__(
        self,
        name: str = "regression_draws",
        betas: list[BetaKind] = ["123", "101"],  # noqa: B006 (a literal config default)
        p: Annotated[int, Ge(2)] = 100,
        sigma: Annotated[float, Ge(0)] = 0.05,
        ns: list[Annotated[int, Ge(1)]] = [25, 35, 45, 55, 65, 75, 85, 95, 105, 115, 125, 135],  # noqa: B006
        trials: Annotated[int, Ge(1)] = 10,
        cv_trials: Annotated[int, Ge(0)] = 0,
    ) -> None:
        if not betas:
            raise ArgumentError("betas", "at least one β* kind")
        if not ns or any(n < 1 for n in ns):
            raise ArgumentError("ns", f"positive sample sizes, got {list(ns)}")
        self.name, self.betas, self.p, self.sigma = name, list(betas), int(p), float(sigma)
        self.ns, self.trials, self.cv_trials = [int(n) for n in ns], int(trials), int(cv_trials)


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


def study_tag(study: Study) -> str:
    """The files' prefix: ``<study>_sigma<σ>`` (``alpha_sigma0.05``)."""
    return f"{study.name}_sigma{study.sigma:g}"


def write_study(
    out: Path, study: Study, rows: list[dict], seed: int, threads: int, seconds: float
) -> dict[str, Path]:
    """``<tag>_trials.csv`` (every row), ``<tag>_summary.csv`` (:func:`summarise`) and
    ``<tag>_protocol.json`` (the study, seed, threads and seconds) in ``out``; their paths."""
    tag = study_tag(study)
    paths = {
        "trials": out / f"{tag}_trials.csv",
        "summary": out / f"{tag}_summary.csv",
        "protocol": out / f"{tag}_protocol.json",
    }
    write_csv(paths["trials"], rows)
    write_csv(paths["summary"], summarise(rows, study.quantiles))
    meta: dict[str, Any] = dict(vars(study))
    meta |= {"seed": seed, "threads": threads, "seconds": round(seconds, 1)}
    paths["protocol"].write_text(json.dumps(meta, indent=1) + "\n")
    return paths
