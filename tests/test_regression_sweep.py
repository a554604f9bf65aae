"""The regression sweep task: tiny sweeps through the harness, the published protocols, checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from tests.conftest import CONF_DIR, REPO_ROOT, compose
from topoexp.config.build import build
from topoexp.config.validate import ConfigError
from topoexp.optimise.regression_sweep import run_study, write_study
from topoexp.run import preflight, run

SWEEP_DIR = CONF_DIR / "experiment" / "toplayer" / "regression_sweep"
SWEEPS = sorted(p.stem for p in SWEEP_DIR.glob("*.yaml"))
TINY = ["logger=none", "dataset.ns=[12]", "dataset.trials=2", "task.lam_grid=[-2,0,3]",
        "task.steps=4", "dataset.p=12"]  # fmt: skip


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize(
    ("experiment", "overrides"),
    [("alpha", ["objective=error/top1"]), ("levelset", ["dataset.cv_trials=2"])],
)
def test_a_tiny_sweep_writes_the_tables_the_direct_call_writes(experiment, overrides, tmp_path):
    cfg = compose([f"+experiment=toplayer/regression_sweep/{experiment}", *TINY, *overrides],
                  tmp_path / "run")  # fmt: skip
    metrics = run(cfg)
    out = tmp_path / "run"
    assert json.loads((out / "status.json").read_text())["status"] == "completed"
    assert (out / "provenance.json").is_file() and (out / "metrics.json").is_file()
    task, problems = build(cfg, "task"), build(cfg, "dataset")
    study = task.protocol(problems)
    rows = run_study(study, cfg.seed, lambda _: None)
    direct = write_study(tmp_path / "direct", study, rows, cfg.seed, 1, 0.0)
    for kind, path in direct.items():
        written = out / path.name
        if kind == "protocol":  # the same study; only the seconds differ
            ours, theirs = json.loads(written.read_text()), json.loads(path.read_text())
            assert ours.pop("seconds") >= 0 and theirs.pop("seconds") == 0.0
            assert ours == theirs
        else:
            assert written.read_bytes() == path.read_bytes(), path.name
    n_cells = len(study.betas) * len(study.ns) * len(study.methods)
    assert metrics["rows"] == n_cells * study.trials
    assert len([k for k in metrics if k.count("/") == 3]) == n_cells
    for method in study.methods:
        errors = [r["error"] for r in rows if r["method"] == method]
        assert metrics[f"error/{method}"] == pytest.approx(np.mean(errors), rel=1e-12)


@pytest.mark.parametrize("name", SWEEPS)
def test_each_sweep_is_the_published_protocol(name, tmp_path):
    cfg = compose([f"+experiment=toplayer/regression_sweep/{name}", "logger=none"], tmp_path)
    preflight(cfg)
    study = build(cfg, "task").protocol(build(cfg, "dataset"))
    tag = f"{study.name}_sigma{study.sigma:g}"
    # the published sweep's record: its protocol as the config (topoexp.report.toplayer)
    record = REPO_ROOT / "results" / "topology_layer" / "runs" / "regression" / tag
    published = yaml.safe_load((record / "config.yaml").read_text())
    assert cfg.seed == published.pop("seed") and published.pop("threads") == 1
    assert published.pop("method") == f"regression_{study.name}"
    published.pop("seconds", None)
    ours = json.loads(json.dumps(vars(study)))
    # λ: np.logspace of the grid, as the published run computed it (its last bit is the CPU's)
    assert ours.pop("lams") == pytest.approx(published.pop("lams"), rel=1e-15)
    assert ours == published


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["task.selection=cv"], "dataset.cv_trials"),  # alpha draws no problems to choose λ on
        (["task.methods=[ols,tv]"], "task.methods"),  # a norm of the other study
        (["task.lam_grid=[-2,0]"], "task.lam_grid"),
        (["task.study=torus"], "task.study"),
        (["dataset.betas=[ring]"], "dataset.betas"),
        (["loss=connectivity"], "loss.connectivity"),
        (["dataset=problem/points"], "dataset"),
        (["evaluators=nldr"], "evaluators"),
        (["objective=loss"], "objective"),
    ],
)
def test_invalid_settings_name_their_key(overrides, key, tmp_path):
    base = ["+experiment=toplayer/regression_sweep/alpha", "logger=none"]
    cfg = compose([*base, *overrides], tmp_path)
    with pytest.raises(ConfigError) as info:
        preflight(cfg)
    assert info.value.key == key
