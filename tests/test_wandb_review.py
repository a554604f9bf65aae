"""W&B review: runs grouped, tagged and typed; the same summary keys for every task; per-class AUCs
as a ``wandb.Table``; multiruns as one group. Everything read back from the offline run files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, TINY, compose
from tests.test_corel_task import TINY_COREL
from tests.wandb_records import _payloads, complete_bytes, read_run
from topoexp.run import run
from topoexp.sinks.wandb_sink import run_group, run_tags

WANDB = ["logger=wandb", "logger.mode=offline"]
IDENTITY = {"run/task", "run/paper", "run/dataset", "run/method", "run/seed", "run/experiment",
            "run/status"}  # fmt: skip


def read_header(path: Path) -> dict:
    """The run record of an offline run file: group, job type, tags, name."""
    from wandb.proto import wandb_internal_pb2 as pb

    for payload in _payloads(complete_bytes(path)):
        record = pb.Record()
        record.ParseFromString(payload)
        if record.WhichOneof("record_type") == "run":
            r = record.run
            return {"group": r.run_group, "job_type": r.job_type, "tags": list(r.tags),
                    "name": r.display_name}  # fmt: skip
    raise AssertionError(f"no run record in {path}")


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")


def _only(run_dir: Path) -> Path:
    (file,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    return file


def test_group_and_tags_rules():
    assert run_group(None, None, "multirun/spheres", "topoae", "spheres") == "multirun/spheres"
    assert run_group("table1_spheres", "spheres/topoae", None, "topoae", "x") == "table1_spheres"
    assert run_group(None, "spheres/topoae", None, "topoae", "x") == "spheres/topoae"
    assert run_group(None, None, None, "corel", "mnist") == "corel/mnist"
    assert len(run_group(None, None, "d" * 300, None, "x")) == 128
    assert run_tags(["homreg", "mnist"], "homreg", "mnist", "ae") == [
        "homreg", "mnist", "paper:homreg", "dataset:mnist", "method:ae"
    ]  # fmt: skip


def test_sink_record_holds_group_tags_type_identity_and_a_table(offline, tmp_path):
    from topoexp.sinks.wandb_sink import WandbSink

    sink = WandbSink(mode="offline", output_dir=tmp_path, job_type="one_class", paper="corel",
                     dataset="mnist", method="corel", seed=3, sweep="multirun/corel")  # fmt: skip
    sink.log_table("per_class_auc", ["class", "auc"], [[0, 0.9], [1, 0.8]])
    sink.log_summary({"auc_m120": 0.85, "eval_s": 2.0}, {})
    sink.finish(failed=False)
    head = read_header(_only(tmp_path))
    assert head == {"group": "multirun/corel", "job_type": "one_class", "name": head["name"],
                    "tags": ["paper:corel", "dataset:mnist", "method:corel"]}  # fmt: skip
    record = read_run(_only(tmp_path))
    summary = record["summary"]
    assert set(summary) >= IDENTITY and summary["run/seed"] == 3
    assert summary["run/status"] == "completed" and summary["final/auc_m120"] == 0.85
    assert summary["final/time/evaluate_s"] == 2.0  # one name for every task's timing
    (table_file,) = tmp_path.glob("wandb/offline-run-*/files/media/table/tables/*.table.json")
    assert json.loads(table_file.read_text())["data"] == [[0, 0.9], [1, 0.8]]


def test_per_class_rows_from_one_class_results():
    import numpy as np

    from topoexp.evaluation.one_class import OneClassResult
    from topoexp.tasks.one_class import per_class_rows

    auc = np.array([[0.5, 1.0], [0.7, 0.8]])  # 2 runs × 2 classes
    result = OneClassResult("80", np.array([3, 7]), auc, np.zeros((2, 2, 80), dtype=int))
    columns, rows = per_class_rows({"80": result}, "mnist")
    assert columns == ["data", "m", "class", "auc", "runs"]
    assert rows == [["mnist", "m=80", 3, pytest.approx(0.6), 2], ["mnist", "m=80", 7, 0.9, 2]]


@pytest.mark.slow
def test_embedding_and_one_class_runs_are_typed_tagged_and_summarised_alike(offline, tmp_path):
    embedding = tmp_path / "embedding"
    embedding_metrics = run(compose([*TINY, *WANDB, "evaluator.plot=true"], embedding))
    one_class = tmp_path / "one_class"
    auc = run(compose([*TINY_COREL, *WANDB, "paper=corel", "method=corel"], one_class))

    head = read_header(_only(embedding))
    assert head["job_type"] == "embedding" and head["group"] == "topoae/spheres"
    assert {"paper:topoae", "dataset:spheres", "method:topoae"} <= set(head["tags"])
    record = read_run(_only(embedding))
    assert record["summary"]["final/kl_0.1"] == pytest.approx(embedding_metrics["kl_0.1"])
    assert any("figures/latents" in key for row in record["history"] for key in row)

    head = read_header(_only(one_class))
    assert head["job_type"] == "one_class" and head["group"] == "corel/patterns"
    assert {"paper:corel", "dataset:patterns", "method:corel"} <= set(head["tags"])
    summaries = [read_run(_only(d))["summary"] for d in (embedding, one_class)]
    for summary in summaries:
        assert set(summary) >= IDENTITY
        assert summary["run/status"] == "completed"
    assert summaries[1]["run/task"] == "one_class" and summaries[1]["run/dataset"] == "patterns"
    assert summaries[1]["final/time/epoch_s"] > 0  # the same key as the generative task's

    # per-class AUCs: a wandb.Table whose rows are the run's metrics
    history = read_run(_only(one_class))["history"]
    rows = [row for row in history if "tables/per_class_auc/_type" in row]
    assert rows and rows[0]["tables/per_class_auc/_type"] == "table-file"
    (table_file,) = one_class.glob("wandb/offline-run-*/files/media/table/tables/*.table.json")
    table = json.loads(table_file.read_text())
    assert table["columns"] == ["data", "m", "class", "auc", "runs"]
    assert len(table["data"]) == 3 * 3  # m ∈ {5, 10, all} × 3 classes
    for data, m, cls, value, runs in table["data"]:
        assert data == "patterns" and runs == (1 if m == "m=all" else 2)
        assert value == pytest.approx(auc[f"auc_{m.replace('=', '')}_class{cls}"])


@pytest.mark.slow
def test_a_multirun_is_one_group(tmp_path):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "WANDB_SILENT": "true"}
    env.pop("WANDB_MODE", None)
    done = subprocess.run(
        [sys.executable, "-m", "topoexp", "-m", *[o for o in TINY if o != "logger=none"], *WANDB,
         "+experiment=spheres/topoae", "seed=1,2", f"hydra.sweep.dir={sweep}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    heads = [read_header(f) for f in sorted(sweep.glob("*/wandb/offline-run-*/run-*.wandb"))]
    assert len(heads) == 2
    assert {h["group"] for h in heads} == {str(sweep)[-128:]}
    summaries = [
        read_run(f)["summary"] for f in sorted(sweep.glob("*/wandb/offline-run-*/run-*.wandb"))
    ]
    assert {s["run/experiment"] for s in summaries} == {"spheres/topoae"}
    assert sorted(s["run/seed"] for s in summaries) == [1, 2]
