"""Smoke test of ``benchmarks/bench_corel.py`` at toy sizes (the numbers are not checked)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_corel.py"


@pytest.mark.slow
def test_bench_corel_runs_and_writes_json(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_corel", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "corel.json"
    args = ["--steps", "2", "--repeat", "2", "--batch", "20", "--n-test", "64"]
    module.main([*args, "--n-train", "3000", "--peer-points", "16", "--json", str(out)])
    result = json.loads(out.read_text())
    assert set(result["ratios"]) >= {
        "step_connectivity / plain",
        "looped_pairing0 / batched_pairing0",
    }
    assert result["one_class"]["n_test"] == 64 and result["one_class"]["eval_s"] > 0
