"""Run records that never lie: every failure ends in status.json, and the records say what exists.

Each test here reproduces a failure a new user met and
checks what the run directory and the command say afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT, TINY, compose
from topoexp import io
from topoexp.config.validate import ConfigError
from topoexp.records import HEARTBEAT_S, run_state
from topoexp.resume import ResumeMismatchError
from topoexp.run import run
from topoexp.sinks.base import NullSink
from topoexp.training.loop import NonFiniteLossError


def _status(run_dir: Path) -> dict:
    return json.loads((run_dir / "status.json").read_text())


def _mnist_cfg(tmp_path: Path, *overrides: str):
    return compose(["dataset=mnist", "model=deep", "logger=none", *overrides], tmp_path / "run")


def test_a_data_failure_ends_in_status_failed(tmp_path):
    empty = tmp_path / "no_data"
    cfg = _mnist_cfg(tmp_path, f"paths.data_dir={empty}")
    with pytest.raises(FileNotFoundError, match="MNIST"):
        run(cfg)
    status = _status(tmp_path / "run")
    assert status["status"] == "failed"
    assert "FileNotFoundError" in status["error"] and str(empty) in status["error"]
    assert status["pid"] == os.getpid() and status["host"] == socket.gethostname()


def test_unknown_transform_names_its_key_and_is_recorded(tmp_path):
    cfg = _mnist_cfg(tmp_path, "dataset.transform=sharpen")
    with pytest.raises(ConfigError) as info:
        run(cfg)
    assert info.value.key == "dataset.transform"
    assert _status(tmp_path / "run")["status"] == "failed"


def test_k_max_beyond_the_evaluated_split_fails_before_training(tiny_cfg, tmp_path):
    with pytest.raises(ConfigError) as info:
        run(tiny_cfg("evaluator.k_max=100"))
    assert info.value.key == "evaluator.k_max" and "40 points" in str(info.value)
    assert not (tmp_path / "run" / "checkpoints").exists()
    assert _status(tmp_path / "run")["status"] == "failed"


def test_perplexity_too_large_for_the_split_fails_before_fitting(tiny_cfg):
    with pytest.raises(ConfigError) as info:
        run(tiny_cfg("+experiment=spheres/tsne", "model.perplexity=20"))
    assert info.value.key == "model.perplexity"


def test_resume_with_changed_values_names_the_keys_and_keeps_the_config(tiny_cfg, tmp_path):
    run(tiny_cfg())
    stored = (tmp_path / "run" / "config.yaml").read_text()
    with pytest.raises(ResumeMismatchError) as info:
        run(tiny_cfg("trainer.resume=true", "loss.signature.weight=1.0", "trainer.batch_size=8"))
    assert info.value.keys == ["loss.signature.weight", "trainer.batch_size"]
    assert "trainer.resume_allow=[loss.signature.weight,trainer.batch_size]" in str(info.value)
    assert (tmp_path / "run" / "config.yaml").read_text() == stored


def test_resume_may_change_allowed_keys_and_records_them(tiny_cfg, tmp_path):
    run(tiny_cfg("trainer.max_epochs=2"))
    run(tiny_cfg("trainer.max_epochs=3", "trainer.resume=true", "loss.signature.weight=1.0",
                 "trainer.resume_allow=[loss.signature.weight]"))  # fmt: skip
    (entry,) = json.loads((tmp_path / "run" / "resumes.json").read_text())
    assert entry["changed"]["loss.signature.weight"] == {"stored": 0.433577, "now": 1.0}
    assert entry["changed"]["trainer.max_epochs"] == {"stored": 2, "now": 3}
    assert (
        yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["loss"]["signature"][
            "weight"
        ]
        == 1.0
    )


def test_history_is_written_every_epoch(tiny_cfg, tmp_path, monkeypatch):
    def interrupt(self, record):
        if record["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(NullSink, "log_epoch", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(tiny_cfg("trainer.max_epochs=5"))
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [r["epoch"] for r in history] == [0, 1]
    assert _status(tmp_path / "run")["status"] == "failed"


def test_nan_at_the_first_step_says_no_checkpoint_exists(tiny_cfg, tmp_path, monkeypatch):
    from topoexp.losses.objective import Objective  # what the trainer trains

    original = Objective.loss

    def poisoned(self, x):
        total, parts = original(self, x)
        return total * float("nan"), parts

    monkeypatch.setattr(Objective, "loss", poisoned)
    with pytest.raises(NonFiniteLossError) as info:
        run(tiny_cfg())
    assert "no epoch completed, so no checkpoint was written" in str(info.value)
    assert "kept" not in str(info.value)
    assert not list((tmp_path / "run" / "checkpoints").glob("*.pt"))


def _write_status(run_dir: Path, **status) -> None:
    io.write_json(run_dir / "status.json", status)


def test_a_killed_run_reads_as_interrupted(tmp_path):
    now = dt.datetime.now(dt.UTC)
    old = (now - dt.timedelta(seconds=10 * HEARTBEAT_S)).isoformat()
    host = socket.gethostname()
    _write_status(tmp_path / "stale", status="running", pid=os.getpid(), host=host, heartbeat=old)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    fresh = now.isoformat()
    _write_status(tmp_path / "dead", status="running", pid=int(dead), host=host, heartbeat=fresh)
    _write_status(tmp_path / "alive", status="running", pid=os.getpid(), host=host, heartbeat=fresh)
    assert run_state(tmp_path / "stale") == "interrupted"
    assert run_state(tmp_path / "dead") == "interrupted"
    assert run_state(tmp_path / "alive") == "running"
    assert run_state(tmp_path / "nothing") == "missing"


def test_report_leaves_out_interrupted_runs(tiny_cfg, tmp_path, capsys):
    from topoexp.report.table1 import collect_runs

    run(tiny_cfg("+experiment=spheres/pca", output_dir=tmp_path / "runs" / "a"))
    run(tiny_cfg("+experiment=spheres/pca", "seed=2", output_dir=tmp_path / "runs" / "b"))
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    status = _status(tmp_path / "runs" / "b") | {"status": "running", "heartbeat": old}
    _write_status(tmp_path / "runs" / "b", **status)
    runs = collect_runs(tmp_path / "runs")
    assert list(runs["seed"]) == [249040430]
    assert "skipping interrupted run" in capsys.readouterr().err


def test_report_refuses_to_pool_runs_of_different_settings(tiny_cfg, tmp_path):
    from topoexp.report.table1 import PoolingError, build

    run(tiny_cfg("trainer.max_epochs=2", output_dir=tmp_path / "runs" / "a"))
    run(tiny_cfg("trainer.max_epochs=3", "seed=2", output_dir=tmp_path / "runs" / "b"))
    with pytest.raises(PoolingError, match=r"trainer\.max_epochs \(2 vs 3\)"):
        build("spheres", tmp_path / "runs", tmp_path / "out", None)


def test_truncated_mnist_file_names_the_file_and_the_fix(tmp_path):
    from topoexp.data.images import load_image_dataset

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):  # fmt: skip
        (raw / name).write_bytes(b"\x00" * 984)
    with pytest.raises(RuntimeError) as info:
        load_image_dataset("mnist", str(tmp_path))
    message = str(info.value)
    assert str(raw / "train-images-idx3-ubyte") in message
    assert "truncated or corrupt" in message and "official uncompressed file" in message


def test_outputs_are_readable_by_the_group_and_others(tiny_cfg, tmp_path):
    previous = os.umask(0o022)
    try:
        run(tiny_cfg("evaluator.plot=true"))
    finally:
        os.umask(previous)
    for name in ("config.yaml", "metrics.json", "status.json", "provenance.json", "history.json",
                 "latents.npz", "latents.png", "losses.png", "checkpoints/last.pt"):  # fmt: skip
        mode = stat.S_IMODE((tmp_path / "run" / name).stat().st_mode)
        assert mode == 0o644, (name, oct(mode))


def test_provenance_and_loss_curves_are_recorded(tiny_cfg, tmp_path):
    run(tiny_cfg("evaluator.plot=true"))
    out = tmp_path / "run"
    provenance = json.loads((out / "provenance.json").read_text())
    for key in ("git_commit", "git_dirty", "packages", "started", "ended", "duration_s", "host",
                "threads", "device", "split_sizes", "parameters"):  # fmt: skip
        assert key in provenance, key
    assert provenance["packages"]["torch"] and provenance["duration_s"] >= 0
    assert provenance["split_sizes"]["test"] == 40
    status = _status(out)
    assert status["status"] == "completed" and "ended" in status and "heartbeat" in status
    assert (out / "losses.png").stat().st_size > 0


def _multirun(args: list[str], sweep_dir: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "topoexp", "-m", *TINY, *args,
               f"hydra.sweep.dir={sweep_dir}"]  # fmt: skip
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def test_a_multirun_whose_jobs_all_failed_exits_non_zero(tmp_path):
    done = _multirun(["loss.signature.weight=-1,-2"], tmp_path / "sweep")
    assert done.returncode != 0
    assert "multirun: 2 of 2 jobs failed" in done.stdout
    assert "error: every job of the multirun failed (2 of 2)" in done.stderr


def test_a_multirun_counts_its_failed_jobs(tmp_path):
    done = _multirun(["loss.signature.weight=-1,0.5"], tmp_path / "sweep")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "multirun: 1 of 2 jobs failed" in done.stdout


def _sweep_job(sweep: Path, n: int, lam: float, state: str, kl: float | None) -> None:
    job = sweep / f"{n}_job"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"loss.signature.weight={lam}"]))
    (job / "config.yaml").write_text(yaml.safe_dump({"objective": "kl_0.1"}))
    _write_status(job, status=state)
    if kl is not None:
        io.write_json(job / "metrics.json", {"kl_0.1": kl})


def test_sweep_report_refuses_a_best_from_failed_trials(tmp_path, capsys):
    from topoexp.report.sweeps import main

    sweep = tmp_path / "sweep"
    _sweep_job(sweep, 0, -1.0, "failed", None)
    _sweep_job(sweep, 1, -2.0, "failed", None)
    results = {"best_params": {"loss.signature.weight": -1.0}, "best_value": 20.0}
    (sweep / "optimization_results.yaml").write_text(yaml.safe_dump(results))
    assert main([str(sweep)]) == 1
    assert "none of the 2 trials" in capsys.readouterr().err

    _sweep_job(sweep, 2, 0.7, "completed", 0.31)
    assert main([str(sweep)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "loss.signature.weight=0.7"
    assert "not a completed trial's" in captured.err


def test_an_interrupted_optuna_sweep_continues_from_its_study_file(tmp_path):
    import optuna

    sweep = tmp_path / "sweep"
    args = ["+experiment=spheres/topoae", "+sweep=spheres/topoae", "trainer.max_epochs=2",
            "trainer.batch_size=choice(16)", "trainer.lr=choice(0.001)"]  # fmt: skip
    first = _multirun([*args, "hydra.sweeper.n_trials=2"], sweep)
    assert first.returncode == 0, first.stderr[-2000:]
    again = _multirun([*args, "hydra.sweeper.n_trials=3"], sweep)  # 1 trial was missing
    assert again.returncode == 0, again.stderr[-2000:]
    assert "2 of its trials finished, 1 to go" in again.stderr + again.stdout
    study = optuna.load_study(study_name="spheres_topoae", storage=f"sqlite:///{sweep}/optuna.db")
    assert len(study.trials) == 3
    assert sorted(p.name.split("_")[0] for p in sweep.iterdir() if p.is_dir()) == ["0", "1", "2"]
