"""Paper tables and the perplexity report built from run directories."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from topoexp.report import perplexity, table1


def _fake_run(root, name, method, seed, metrics, perplexity_value=None, status="completed"):
    run = root / name
    run.mkdir(parents=True)
    model = {"name": method} | ({"perplexity": perplexity_value} if perplexity_value else {})
    (run / "config.yaml").write_text(
        yaml.safe_dump(
            {"method": method, "seed": seed, "dataset": {"name": "spheres"}, "model": model}
        )
    )
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "status.json").write_text(json.dumps({"status": status}))
    rng = np.random.default_rng(seed)
    np.savez(
        run / "latents.npz",
        latents=rng.normal(size=(30, 2)),
        labels=np.arange(30) % 3,
        indices=np.arange(30),
    )


def test_table_means_population_std_and_flags(tmp_path):
    runs = tmp_path / "runs"
    _fake_run(runs, "a", "pca", 1, {"kl_0.1": 0.6, "rmse": 11.0})
    _fake_run(runs, "b", "pca", 2, {"kl_0.1": 0.7, "rmse": 13.0})
    _fake_run(runs, "c", "pca", 3, {"kl_0.1": 99.0, "rmse": 99.0}, status="failed")  # ignored
    reference = tmp_path / "paper.csv"
    pd.DataFrame([{"dataset": "spheres", "method": "pca", "kl_0.1": 0.65, "rmse": 8.0}]).to_csv(
        reference, index=False
    )

    long = table1.build("spheres", runs, tmp_path / "out", reference).set_index("metric")
    assert long.loc["kl_0.1", "ours_mean"] == pytest.approx(0.65)
    assert long.loc["kl_0.1", "ours_std"] == pytest.approx(0.05)  # ddof = 0
    assert not long.loc["kl_0.1", "outside_20pct"]
    assert long.loc["rmse", "rel_dev"] == pytest.approx(0.5) and long.loc["rmse", "outside_20pct"]
    markdown = (tmp_path / "out" / "table.md").read_text()
    assert "| PCA | 2 |" in markdown and "†" in markdown
    assert (tmp_path / "out" / "latents.png").stat().st_size > 0


def test_table_from_several_run_directories(tmp_path):
    _fake_run(tmp_path / "pca_runs", "a", "pca", 1, {"kl_0.1": 0.6})
    _fake_run(tmp_path / "ae_runs", "b", "ae", 7, {"kl_0.1": 0.5})
    _fake_run(tmp_path / "ae_runs", "c", "ae", 8, {"kl_0.1": 0.7})
    dirs = [tmp_path / "pca_runs", tmp_path / "ae_runs"]
    table1.main(["--dataset", "spheres", "--runs", *map(str, dirs), "--out", str(tmp_path / "o")])
    long = pd.read_csv(tmp_path / "o" / "table.csv").set_index("method")
    assert long.loc["ae", "ours_mean"] == pytest.approx(0.6)
    assert long.loc["pca", "ours_mean"] == pytest.approx(0.6)
    markdown = (tmp_path / "o" / "table.md").read_text()
    assert "| PCA | 1 | 0.6000 (–) |" in markdown  # one seed: no ± spread
    assert "| AE | 2 | 0.6000 ± 0.1000 (–) |" in markdown
    provenance = json.loads((tmp_path / "o" / "provenance.json").read_text())
    assert provenance["methods"] == {"ae": [7, 8], "pca": [1]}


def test_no_completed_runs_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no completed runs"):
        table1.collect_runs(tmp_path)


def test_perplexity_report_orders_by_perplexity(tmp_path):
    runs = tmp_path / "runs"
    for i, p in enumerate([750.0, 5.0, 30.0]):
        metrics = {
            "kl_0.01": 0.1,
            "kl_0.1": 0.5,
            "kl_1": 0.01,
            "trust": 0.7,
            "cont": 0.8,
            "sliced_wasserstein_h1": p,
            "sliced_wasserstein_h1_maxnorm": 1 / p,
        }
        _fake_run(runs, f"r{i}", "tsne", 1, metrics, perplexity_value=p)
    table = perplexity.build(runs, tmp_path / "out")
    assert table["perplexity"].tolist() == [5.0, 30.0, 750.0]
    assert table["sliced_wasserstein_h1"].tolist() == [5.0, 30.0, 750.0]
    assert (tmp_path / "out" / "tsne_latents_perplexity_750.png").exists()
