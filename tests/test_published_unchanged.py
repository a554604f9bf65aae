"""Redesigns keep every published result: reference metrics recorded before the composition rule.

``tests/data/unchanged/`` holds metrics written by the code as it was before the composition
rule and the training engine (the same configurations under their old keys, one thread), on
one machine. A CPU of other vector extensions rounds differently in the last bits; its references
are this code's outputs recorded on such a CPU (``machines/<cpu signature>/``, written with
``TOPOEXP_RECORD_MACHINE=1``, see ``tests/conftest.py``), so there the tests guard against
changes from then on. On a CPU with no recording that does not match exactly, the metrics must
agree within ``CROSS_CPU_RELATIVE`` (1e-3) and the test warns, naming the CPU signature:

- ``spheres_{pca,topoae}_full_metrics.json``: the full SPHERES Table-1 runs of seed 249040430,
  compared byte for byte (``metrics.json`` as written);
- the other files: tiny runs of each task (COREL with λ = 20 and λ = 0, the homological AE,
  AE + Reg and VAE, the GAN baseline, an attack, an optimisation, TopoAE), compared to 1e-6
  relative (NaN equal to NaN), timings left out. On one CPU thread they are in fact identical.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import (
    CROSS_CPU_RELATIVE,
    RECORD_MACHINE,
    REPO_ROOT,
    compose,
    machine_reference,
    unrecorded_cpu,
    warn_unrecorded,
)
from topoexp.run import run

REFERENCE = Path(__file__).parent / "data" / "unchanged"

COREL = [
    "task=one_class", "model=corel", "loss=connectivity", "evaluator=one_class",
    "dataset=patterns", "logger=none", "model.n_branches=4", "model.branch_dim=3",
    "trainer.batch_size=10", "trainer.max_epochs=2", "trainer.patience=1",
    "trainer.reload_best=false", "trainer.progress=false", "trainer.log_every=1",
    "evaluator.m_values=[5,10,all]", "evaluator.runs=2", "task.death_time_batches=20",
    "task.death_time_batch_size=10", "trainer.num_threads=1", "objective=auc_m5",
]  # fmt: skip


def _homreg(experiment: str, data: Path, assets: Path) -> list[str]:
    return [
        f"+experiment=homreg/{experiment}", "logger=none", f"paths.data_dir={data}",
        "dataset.verify_checksums=false", f"task.classifier_dir={assets}", "task.n_samples=120",
        "task.monitor_size=32", "task.scatter_size=40", "trainer.batch_size=32",
        "trainer.max_epochs=2", "trainer.progress=false", "trainer.num_threads=1",
    ]  # fmt: skip


def _cases(data: Path, assets: Path, cache: Path) -> dict[str, list[str]]:
    return {
        "corel_tiny": COREL,
        "corel_tiny_lam0": [*COREL, "loss.connectivity.weight=0"],
        "homreg_ae_reg": _homreg("mnist/ae_reg_5", data, assets),
        "homreg_vae": _homreg("mnist/vae_5", data, assets),
        "homreg_ae": _homreg("mnist/ae_5", data, assets),
        "gan_baseline": [
            "+experiment=toplayer/generator/baseline", "logger=none",
            "dataset.verify_checksums=false", "model.generator_hidden=[16,32]",
            "model.discriminator_hidden=[16]", "trainer.iterations=6",
            "trainer.checkpoint_every=3", "trainer.log_every=2", "trainer.progress=false",
            "trainer.batch_size=16", "task.computations=2", "task.n_l2=20", "task.n_wass=6",
            "task.grid_size=8", "task.interpolations=2", "task.interpolation_steps=3",
            f"paths.data_dir={data}",
        ],
        "attack_mlp": [
            "+experiment=toplayer/attacks/mlp", "logger=none", f"paths.data_dir={data}",
            "dataset.verify_checksums=false", "task.n_attack=12", "task.train_subset=100",
            "task.test_subset=60", "task.steps=4", "task.n_examples=4", "task.fit_epochs=5",
            "task.fit_lr=0.01", f"task.feature_cache={cache}", "task.num_threads=1",
        ],
        "optimise_points": [
            "+experiment=toplayer/points_increase_h1_decrease_h0", "task.steps=4",
            "task.log_every=2", "dataset.n_points=15", "logger=none",
        ],
        "spheres_topoae_tiny": [
            "+experiment=spheres/topoae", "dataset.n_samples=20", "dataset.d=10",
            "trainer.max_epochs=3", "trainer.batch_size=16", "trainer.progress=false",
            "evaluator.k_min=2", "evaluator.k_max=10", "evaluator.k_step=2",
            "evaluator.plot=false", "logger=none", "trainer.num_threads=1",
        ],
    }  # fmt: skip


def _same(a: float, b: float, rel: float = 1e-6) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == pytest.approx(b, rel=rel, abs=1e-12)


def _gap(expected: dict, got: dict) -> float:
    gaps = [
        abs(got[k] - v) / abs(v)
        for k, v in expected.items()
        if isinstance(v, float) and v and math.isfinite(v) and math.isfinite(got[k])
    ]
    return max(gaps, default=0.0)


def _compare(expected: dict, got: dict, reference: Path, what: str) -> None:
    """Equal to 1e-6; on a CPU without its own recording, within the cross-CPU tolerance."""
    different = {k: (expected[k], got[k]) for k in expected if not _same(expected[k], got[k])}
    if different and unrecorded_cpu(reference):
        far = {
            k: different[k] for k in different if not _same(expected[k], got[k], CROSS_CPU_RELATIVE)
        }
        assert not far
        warn_unrecorded(what, _gap({k: expected[k] for k in different}, got))
        return
    assert not different


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path, Path]:
    from tests.test_homreg_task import write_fake_mnist, write_stand_in_classifier

    root = tmp_path_factory.mktemp("unchanged")
    write_fake_mnist(root / "data")
    return root / "data", write_stand_in_classifier(root / "assets"), root / "cache"


@pytest.mark.parametrize(
    "name",
    [p.stem for p in sorted(REFERENCE.glob("*.json")) if not p.stem.endswith("_full_metrics")],
)
def test_tiny_runs_of_every_task_reproduce_the_recorded_metrics(name, inputs, tmp_path):
    overrides = _cases(*inputs)[name]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    try:
        metrics = run(compose(overrides, tmp_path / name))
    finally:
        torch.set_num_threads(threads)
    reference = machine_reference(REFERENCE / f"{name}.json")
    if RECORD_MACHINE:
        before = json.loads((REFERENCE / f"{name}.json").read_text())
        reference.write_text(json.dumps({k: metrics[k] for k in before}, indent=2) + "\n")
    expected = json.loads(reference.read_text())
    assert set(expected) <= set(metrics)
    _compare(expected, metrics, REFERENCE / f"{name}.json", name)


def _cli(experiment: str, out: Path) -> bytes:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    args = [f"+experiment=spheres/{experiment}", "logger=none", "trainer.num_threads=1",
            "trainer.progress=false", f"hydra.run.dir={out}"]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "topoexp", *args], cwd=REPO_ROOT, env=env,
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return (out / "metrics.json").read_bytes()


def test_spheres_pca_metrics_are_byte_identical(tmp_path):
    _assert_cli_bytes("pca", "spheres_pca_full_metrics.json", tmp_path)


@pytest.mark.slow
def test_spheres_topoae_metrics_are_byte_identical(tmp_path):
    _assert_cli_bytes("topoae", "spheres_topoae_full_metrics.json", tmp_path)


def _assert_cli_bytes(experiment: str, reference: str, tmp_path: Path) -> None:
    written = _cli(experiment, tmp_path / experiment)
    path = machine_reference(REFERENCE / reference)
    if RECORD_MACHINE:
        path.write_bytes(written)
    if written != path.read_bytes() and unrecorded_cpu(REFERENCE / reference):
        expected = json.loads(path.read_bytes())
        _compare(expected, json.loads(written), REFERENCE / reference, reference)
        return
    assert written == path.read_bytes()
