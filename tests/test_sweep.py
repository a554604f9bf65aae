"""A real Hydra + Optuna sweep on a tiny budget, with failing trials that must not stop it."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from tests.conftest import REPO_ROOT, TINY


def test_optuna_sweep_survives_failing_trials_and_returns_the_best(tmp_path):
    sweep_dir = tmp_path / "sweep"
    command = [
        sys.executable, "-m", "topoexp", "-m",
        "+experiment=spheres/topoae", "+sweep=spheres/topoae",
        *TINY,
        "trainer.max_epochs=2",
        "hydra.sweeper.n_trials=3",
        # λ = -1 is invalid: those trials fail and score failure_score (20)
        "loss.lam=choice(-1.0,0.5)", "trainer.lr=choice(0.001)", "trainer.batch_size=choice(16)",
        f"hydra.sweep.dir={sweep_dir}",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "must be ≥ 0, got -1.0" in done.stderr + done.stdout  # a trial did fail

    result = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert result["best_params"]["loss.lam"] == 0.5
    completed = [json.loads(p.read_text()) for p in sweep_dir.glob("*/metrics.json")]
    assert completed and result["best_value"] == min(m["kl_0.1"] for m in completed)
    assert result["best_value"] < 20.0
    # the objective is KL_0.1 on the validation split
    run_cfg = yaml.safe_load(next(sweep_dir.glob("*/config.yaml")).read_text())
    assert run_cfg["evaluator"]["split"] == "validation"
