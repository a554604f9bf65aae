"""``trainer.ensemble``: each member writes the run directory its single run would write."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from tests.conftest import TINY, compose
from topoexp.config.validate import ConfigError
from topoexp.run import preflight, run

SEEDS = (5, 8)
ONE_CLASS = [
    "task=one_class",
    "model=corel",
    "loss=none",
    "evaluator=one_class",
    "dataset=patterns",
    "logger=none",
    "trainer.max_epochs=2",
    "trainer.progress=false",
    "evaluator.m_values=[5]",
    "evaluator.runs=1",
    "task.death_time_batches=2",
    "task.death_time_batch_size=5",
    "objective=auc_m5",
]


def _files(run_dir) -> set[str]:
    return {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()}


def _config(run_dir) -> dict:
    cfg = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"))
    cfg.pop("paths")  # the run directory and, in these tests, the root
    return cfg


@pytest.mark.parametrize("overrides", [TINY, ONE_CLASS], ids=["embedding", "one_class"])
def test_members_write_the_directories_of_their_single_runs(tmp_path, overrides):
    seeds = ",".join(map(str, SEEDS))
    means = run(compose([*overrides, f"trainer.ensemble=[{seeds}]"], tmp_path / "ens"))
    summary = json.loads((tmp_path / "ens" / "ensemble.json").read_text())
    assert summary["seeds"] == list(SEEDS)
    assert json.loads((tmp_path / "ens" / "status.json").read_text())["status"] == "completed"
    objective = OmegaConf.load(tmp_path / "ens" / "config.yaml").objective
    values = []
    for seed in SEEDS:
        member = tmp_path / "ens" / f"seed_{seed}"
        alone = tmp_path / f"alone_{seed}"
        single = run(compose([*overrides, f"seed={seed}"], alone))
        assert _files(member) == _files(alone)
        assert _config(member) == _config(alone)  # the single run's config, seed and all
        assert json.loads((member / "status.json").read_text())["status"] == "completed"
        provenance = json.loads((member / "provenance.json").read_text())
        assert provenance["trained_in_ensemble"] is True and provenance["seed"] == seed
        metrics = json.loads((member / "metrics.json").read_text())
        assert summary["members"][str(seed)]["metrics"] == metrics
        assert metrics.keys() == single.keys()
        for key, value in single.items():  # float32: batched products round differently
            if key.startswith("time/"):
                continue
            assert metrics[key] == pytest.approx(value, rel=2e-3, abs=1e-4), key
        values.append(metrics[objective])
    assert means[objective] == pytest.approx(sum(values) / len(values))


def test_an_ensemble_does_not_resume_and_its_seeds_do_not_repeat(tmp_path):
    with pytest.raises(ConfigError, match=r"trainer\.ensemble") as info:
        preflight(compose([*TINY, "trainer.ensemble=[1,2]", "trainer.resume=true"], tmp_path))
    assert "resume" in str(info.value)
    with pytest.raises(ConfigError, match="repeat"):
        preflight(compose([*TINY, "trainer.ensemble=[1,1]"], tmp_path))
