"""Paper tables and the perplexity report built from run directories."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from topoexp.report import perplexity, table1, tables
from topoexp.report.records import load_records


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


def test_table1_copies_the_completed_runs_into_records(tmp_path):
    runs = tmp_path / "runs"
    _fake_run(runs, "a", "pca", 1, {"kl_0.1": 0.6, "rmse": 11.0})
    _fake_run(runs, "b", "pca", 2, {"kl_0.1": 0.7, "rmse": 13.0})
    _fake_run(runs, "c", "pca", 3, {"kl_0.1": 99.0, "rmse": 99.0}, status="failed")  # ignored
    copied = table1.build("spheres", runs, tmp_path / "out")
    assert sorted(copied["seed"]) == [1, 2]
    records = load_records(tmp_path / "out" / "runs")
    assert list(records["run"]) == ["pca_1", "pca_2"]
    assert records["kl_0.1"].tolist() == [0.6, 0.7]
    assert (tmp_path / "out/runs/pca_1/latents.npz").is_file()  # the first seed's, for the figure
    assert not (tmp_path / "out/runs/pca_2/latents.npz").exists()


def test_table1_from_several_run_directories(tmp_path):
    _fake_run(tmp_path / "pca_runs", "a", "pca", 1, {"kl_0.1": 0.6})
    _fake_run(tmp_path / "ae_runs", "b", "ae", 7, {"kl_0.1": 0.5})
    _fake_run(tmp_path / "ae_runs", "c", "ae", 8, {"kl_0.1": 0.7})
    dirs = [tmp_path / "pca_runs", tmp_path / "ae_runs"]
    table1.main(["--dataset", "spheres", "--runs", *map(str, dirs), "--out", str(tmp_path / "o")])
    records = load_records(tmp_path / "o" / "runs")
    assert sorted(records["run"]) == ["ae_7", "ae_8", "pca_1"]
    table = tables.aggregate(records, ["method"], ["kl_0.1"])
    assert table.loc[[("ae",)], "kl_0.1_mean"].iloc[0] == pytest.approx(0.6)


def test_no_completed_runs_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no completed runs"):
        table1.collect_runs(tmp_path)


def test_perplexity_runs_become_records_named_by_perplexity(tmp_path):
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
    records = load_records(tmp_path / "out/runs/perplexity", {"perplexity": "model.perplexity"})
    assert sorted(records["run"]) == ["tsne_perplexity30", "tsne_perplexity5", "tsne_perplexity750"]
    assert sorted(records["sliced_wasserstein_h1"]) == [5.0, 30.0, 750.0]
    assert (tmp_path / "out" / "tsne_latents_perplexity_750.png").exists()
