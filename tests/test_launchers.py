"""Real Hydra launchers (joblib, submitit in local mode) and the console/log output of a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, TINY
from tests.wandb_records import read_run

TINY_WANDB = [o for o in TINY if not o.startswith("logger")] + ["logger=wandb",
                                                                 "logger.mode=offline"]  # fmt: skip


def _topoexp(args: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_SILENT": "true"}
    env.pop("WANDB_MODE", None)
    return subprocess.run(
        [sys.executable, "-m", "topoexp", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def _check_jobs(sweep: Path, seeds: list[int]) -> None:
    jobs = sorted(p for p in sweep.iterdir() if (p / ".hydra").is_dir())
    assert len(jobs) == len(seeds), [p.name for p in jobs]
    found = []
    for job in jobs:
        assert json.loads((job / "status.json").read_text())["status"] == "completed"
        metrics = json.loads((job / "metrics.json").read_text())
        (wandb_file,) = job.glob("wandb/offline-run-*/run-*.wandb")
        record = read_run(wandb_file)
        assert record["summary"]["final/kl_0.1"] == pytest.approx(metrics["kl_0.1"])
        found.append(record["config"]["seed"])
    assert sorted(found) == sorted(seeds)


@pytest.mark.parametrize(
    "launcher",
    [
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"],
    ],
    ids=["joblib", "submitit_local"],
)
def test_two_job_multirun_through_a_real_launcher(launcher, tmp_path):
    sweep = tmp_path / "sweep"
    done = _topoexp(["-m", *TINY_WANDB, "seed=1,2", *launcher, f"hydra.sweep.dir={sweep}"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "multirun: 0 of 2 jobs failed" in done.stdout
    _check_jobs(sweep, [1, 2])


def test_a_run_logs_what_a_researcher_needs_and_ends_with_its_directory(tmp_path):
    run_dir = tmp_path / "run"
    done = _topoexp([*TINY_WANDB, "trainer.max_epochs=2", f"hydra.run.dir={run_dir}"])
    assert done.returncode == 0, done.stderr[-3000:]
    console = (done.stdout + done.stderr).strip().splitlines()
    assert console[-1].endswith(f"run directory: {run_dir}")
    log = (run_dir / "__main__.log").read_text()
    for expected in ("data spheres: {'fit': 360", "parameters, device cpu", " threads",
                     "epoch 1/2: train", "epoch 2/2: train", "metrics: {"):  # fmt: skip
        assert expected in log, expected
