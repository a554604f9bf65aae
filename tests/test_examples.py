"""The scripts in ``examples/`` run and do what they say."""

from __future__ import annotations

import ast
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist

from tests.conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"


def _main(name: str):
    return runpy.run_path(str(EXAMPLES / name), run_name="example")["main"]


def test_topology_layer_in_a_plain_training_loop() -> None:
    result = _main("topology_layer_training.py")()
    start = result["start"].numpy()
    # the layer's H0 bars of a Rips filtration are the MST's edges (scipy's MST, independently)
    mst = minimum_spanning_tree(cdist(start, start)).sum()
    assert result["h0_total_before"] == pytest.approx(mst, rel=1e-5)
    assert result["h0_within_after"] < 0.5 * result["h0_within_before"]
    moved = np.linalg.norm(result["points"].numpy() - start, axis=1).mean()
    assert moved < 1.0  # the data term kept the points near their start


def test_signature_loss_on_a_users_own_model() -> None:
    result = _main("topoae_loss_own_model.py")()
    assert result["topo_last"] < 0.25 * result["topo_first"]
    assert 0 <= result["matched_last"] <= 63


def test_run_experiment_from_python(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TOPOEXP_ROOT"}
    env |= {"PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "run_experiment.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    printed = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    (run_dir,) = (tmp_path / "outputs").glob("topoae_spheres/*")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert printed == {k: round(v, 4) for k, v in metrics.items() if k.startswith("kl_")}
    assert metrics["epochs"] == 1.0  # debug=smoke applied over the experiment's 100 epochs
    assert f"root_dir: {tmp_path}" in (run_dir / "config.yaml").read_text()
