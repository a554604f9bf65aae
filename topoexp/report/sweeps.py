"""The best completed trial of a sweep as Hydra overrides.

``python -m topoexp.report.sweeps <sweep dir>`` prints e.g. ``loss.lam=1.73 trainer.lr=0.001``,
ready to append to a ``python -m topoexp`` call. The best trial is chosen among the jobs whose
``status.json`` says ``completed``, by their own ``metrics.json`` (the objective and its
direction from the sweep's config), never from a failed trial's ``failure_score``; the command
refuses when no trial completed, and says when Optuna's own best was a failed trial.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import yaml

from topoexp.multirun import job_states

__all__ = ["best_overrides", "best_trial"]


class NoCompletedTrialError(RuntimeError):
    """No trial of the sweep completed, so there is no best to report."""


def _job_overrides(job: Path) -> dict[str, str]:
    overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()) or []
    return dict(item.lstrip("+").split("=", 1) for item in overrides if "=" in item)


def best_trial(sweep_dir: Path) -> tuple[Path, float, dict[str, str]]:
    """(job directory, objective value, swept overrides) of the best completed trial."""
    results = sweep_dir / "optimization_results.yaml"
    if not results.exists():
        raise FileNotFoundError(
            f"no optimization_results.yaml in {sweep_dir}: has the sweep finished?"
        )
    summary = yaml.safe_load(results.read_text())
    swept = list(summary["best_params"])
    states = job_states(sweep_dir)
    candidates = []
    for job_name, state in states.items():
        job = Path(job_name)
        if state != "completed" or not (job / "metrics.json").exists():
            continue
        cfg = yaml.safe_load((job / "config.yaml").read_text())
        value = json.loads((job / "metrics.json").read_text()).get(cfg["objective"])
        if value is not None and math.isfinite(value):
            candidates.append((value, job))
    failed = sum(state != "completed" for state in states.values())
    if not candidates:
        raise NoCompletedTrialError(
            f"none of the {len(states)} trials in {sweep_dir} completed ({failed} failed): "
            "there is no best trial; see the trials' status.json"
        )
    direction = str(summary.get("direction", "minimize")).lower()
    hydra_cfg = sweep_dir / "multirun.yaml"
    if hydra_cfg.exists():
        direction = str(
            yaml.safe_load(hydra_cfg.read_text())["hydra"]["sweeper"].get("direction", "minimize")
        ).lower()
    value, job = (max if "max" in direction else min)(candidates, key=lambda c: c[0])
    overrides = _job_overrides(job)
    return job, value, {key: overrides[key] for key in swept if key in overrides}


def best_overrides(sweep_dir: Path) -> list[str]:
    """``key=value`` overrides of the best completed trial in ``sweep_dir``."""
    job, value, params = best_trial(sweep_dir)
    summary = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    if not math.isclose(float(summary["best_value"]), value, rel_tol=1e-12, abs_tol=0.0):
        print(
            f"note: Optuna's best value {summary['best_value']} is not a completed trial's "
            f"(a failed trial's failure_score?); using {job.name} with {value}",
            file=sys.stderr,
        )
    return [f"{key}={val}" for key, val in params.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    try:
        print(" ".join(best_overrides(parser.parse_args(argv).sweep_dir)))
    except (NoCompletedTrialError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
