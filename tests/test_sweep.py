"""A real Hydra + Optuna sweep on a tiny budget, with failing trials that must not stop it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from omegaconf import OmegaConf

from tests.conftest import CONF_DIR, REPO_ROOT, TINY, compose
from topoexp.run import preflight


def test_optuna_sweep_survives_failing_trials_and_returns_the_best(tmp_path):
    sweep_dir = tmp_path / "sweep"
    command = [
        sys.executable, "-m", "topoexp", "-m",
        "+experiment=spheres/topoae", "+sweep=spheres/topoae",
        *TINY,
        "trainer.max_epochs=2",
        "hydra.sweeper.n_trials=3",
        # λ = -1 is invalid: those trials fail and score failure_score (20)
        "loss.signature.weight=choice(-1.0,0.5)",
        "trainer.lr=choice(0.001)", "trainer.batch_size=choice(16)",
        f"hydra.sweep.dir={sweep_dir}",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stderr + done.stdout
    assert "invalid config value for 'loss.signature.weight'" in output  # a trial did fail
    failed = sum(
        1 for p in sweep_dir.glob("*/.hydra") if "weight=-1.0" in (p / "overrides.yaml").read_text()
    )
    assert f"multirun: {failed} of 3 jobs failed" in output

    result = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert result["best_params"]["loss.signature.weight"] == 0.5
    completed = [json.loads(p.read_text()) for p in sweep_dir.glob("*/metrics.json")]
    assert completed and result["best_value"] == min(m["kl_0.1"] for m in completed)
    assert result["best_value"] < 20.0
    # the objective is KL_0.1 on the validation split
    run_cfg = yaml.safe_load(next(sweep_dir.glob("*/config.yaml")).read_text())
    assert run_cfg["evaluator"]["split"] == "validation"


SWEEPS = sorted(
    p.relative_to(CONF_DIR / "sweep").with_suffix("").as_posix()
    for p in (CONF_DIR / "sweep").rglob("*.yaml")
)
_LR_BATCH = {
    "trainer.lr": "tag(log, interval(1.0e-4, 1.0e-2))",
    "trainer.batch_size": "int(interval(16, 128))",
}
# spec §4, the search spaces of the original's hyperparameter-search JSONs
TABLE1_SPACES = {
    "ae": _LR_BATCH,
    "topoae": {**_LR_BATCH, "loss.signature.weight": "tag(log, interval(0.1, 3.0))"},
    "topopca": {**_LR_BATCH, "loss.signature.weight": "tag(log, interval(0.01, 3.0))"},
    "tsne": {
        "model.perplexity": "interval(5.0, 50.0)",
        "model.learning_rate": "tag(log, interval(10.0, 1000.0))",
    },
    "umap": {"model.n_neighbors": "int(interval(15, 500))", "model.min_dist": "interval(0.0, 1.0)"},
    "isomap": {"model.n_neighbors": "int(interval(15, 500))"},
}


def _compose_with_hydra(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from topoexp.config.schema import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return hydra_compose("config", overrides=overrides, return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()


@pytest.mark.parametrize("name", SWEEPS)
def test_every_sweep_searches_keys_of_its_experiment(name, tmp_path):
    """Each ``+sweep=X`` goes with ``+experiment=X``: its parameters exist there and validate."""
    cfg = _compose_with_hydra([f"+experiment={name}", f"+sweep={name}"])
    params = dict(cfg.hydra.sweeper.params)
    assert params and cfg.hydra.sweeper.n_trials == 20
    assert cfg.evaluator.split == "validation"
    for key in params:
        assert OmegaConf.select(cfg, key) is not None or key == "model.learning_rate", key
    preflight(compose([f"+experiment={name}"], tmp_path))
    group, method = name.split("/")
    if group != "study":
        assert params == TABLE1_SPACES[method]
        assert cfg.hydra.sweeper.sampler._target_.endswith("RandomSampler")
