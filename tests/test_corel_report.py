"""The COREL offline report decides each claim from the run directories' numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from topoexp.report.corel import collect, decide_claims, main

M = ("80", "120", "500", "all")


def _run(root: Path, name: str, aucs: tuple[float, ...], eps: float | None = None) -> None:
    out = root / name
    out.mkdir(parents=True)
    metrics = {f"auc_m{m}": a for m, a in zip(M, aucs, strict=True)}
    metrics |= {f"auc_m{m}_class{c}": a for m, a in zip(M, aucs, strict=True) for c in range(2)}
    (out / "metrics.json").write_text(json.dumps(metrics))
    (out / "status.json").write_text(json.dumps({"status": "completed"}))
    (out / "config.yaml").write_text(yaml.safe_dump({"dataset": {"name": "mnist"}}))
    if eps is not None:
        per_batch = np.stack(
            [np.full((16, 5), eps - 1), np.full((16, 5), eps), np.full((16, 5), eps + 1)], -1
        )
        np.savez(out / "death_times.npz", per_batch=per_batch)


def test_claims_reproduced_when_the_numbers_say_so(tmp_path):
    _run(tmp_path, "mnist", (0.90, 0.91, 0.92, 0.93), eps=2.0)
    _run(tmp_path, "mnist_to_fmnist", (0.80, 0.81, 0.82, 0.83), eps=2.1)
    _run(tmp_path, "fmnist", (0.85, 0.86, 0.87, 0.88), eps=1.9)
    _run(tmp_path, "fmnist_to_mnist", (0.89, 0.90, 0.91, 0.92), eps=1.95)
    _run(tmp_path, "fmnist_1x160_to_mnist", (0.6, 0.6, 0.6, 0.6))
    _run(tmp_path, "fmnist_lam0_to_mnist", (0.5, 0.5, 0.5, 0.5))
    claims = decide_claims(collect(tmp_path))
    verdicts = [v for _, v, _ in claims]
    assert verdicts[:5] == ["reproduced"] * 5  # the death times: near η, and agreeing
    # MNIST: own 0.91, other 0.90 → loses 0.01; Fashion-MNIST: own 0.86, other 0.81 → 0.05
    assert verdicts[5] == "not reproduced" and "+0.050" in claims[5][2]
    assert not any("partly" in v for v in verdicts)


def test_claims_not_reproduced_and_not_run(tmp_path):
    _run(tmp_path, "fmnist_to_mnist", (0.7, 0.69, 0.71, 0.72))
    _run(tmp_path, "fmnist_1x160_to_mnist", (0.75, 0.6, 0.6, 0.6))
    _run(tmp_path, "fmnist_lam0_to_mnist", (0.55, 0.5, 0.5, 0.5))
    verdicts = [v for _, v, _ in decide_claims(collect(tmp_path))]
    assert verdicts == ["not reproduced"] * 3 + ["not run"] * 3


def test_report_writes_tables_figures_and_provenance(tmp_path):
    runs = tmp_path / "runs"
    _run(runs, "mnist", (0.90, 0.91, 0.92, 0.93), eps=2.0)
    _run(runs, "mnist_to_fmnist", (0.80, 0.81, 0.82, 0.83), eps=2.1)
    assert main(["--runs", str(runs), "--out", str(tmp_path / "out"), "--epochs", "1"]) == 0
    out = tmp_path / "out"
    for name in ("tables.md", "claims.json", "provenance.json", "auc_vs_m.png",
                 "death_times_per_branch.png", "per_class_mnist.csv"):  # fmt: skip
        assert (out / name).exists(), name
    assert "1 training epoch" in (out / "tables.md").read_text()
    deaths = pd.read_csv(out / "death_times.csv")
    assert list(deaths["backbone"].unique()) == ["mnist"] and len(deaths) == 16
    # ε̂ 2.0 on its own test split, 2.1 on the other: gap 0.1 per branch
    assert np.allclose(deaths["epsilon_own"], 2.0) and np.allclose(deaths["epsilon_gap"], 0.1)
