"""topoexp as an installed wheel: its configs, its console command, its light library imports.

The wheel is built from a copy of the sources and installed without dependencies into a fresh
virtual environment that sees this environment's packages through a ``.pth`` line (so nothing is
downloaded, and the checkout itself is not on its path); a tiny job then runs from another folder.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

HEAVY = ("wandb", "umap", "optuna", "hydra", "omegaconf", "sklearn", "matplotlib", "pandas")
SOURCES = ("topoexp", "hydra_plugins", "conf", "pyproject.toml", "setup.py", "MANIFEST.in")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TOPOEXP_ROOT")}
    return {**env, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline", "MPLBACKEND": "Agg", **extra}


def _run(cmd: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=_env(**extra), capture_output=True, text=True)


def test_layers_and_losses_import_without_the_experiment_stack() -> None:
    code = (
        "import sys, topoexp.topology, topoexp.losses, topoexp.losses.homological, "
        "topoexp.losses.connectivity, topoexp.losses.topology_prior; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    done = _run([sys.executable, "-c", code], cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the topoexp wheel installed; returns its bin/."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in (*SOURCES, "README.md"):
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    dist = base / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    done = _run([*build, "-w", str(dist), str(src)], cwd=base)
    assert done.returncode == 0, done.stderr
    (wheel,) = dist.glob("topoexp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "topoexp/conf/config.yaml" in names
    assert "topoexp/conf/debug/smoke.yaml" in names
    assert sum(n.startswith("topoexp/conf/") for n in names) == len(
        list((REPO_ROOT / "conf").rglob("*.yaml"))
    )
    venv = base / "venv"
    done = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    assert done.returncode == 0, done.stderr
    (site_dir,) = venv.glob("lib/python*/site-packages")
    (site_dir / "_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    done = _run([*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)], cwd=base)
    assert done.returncode == 0, done.stderr
    return venv / "bin"


def test_wheel_layer_import_from_the_installed_package(installed: Path, tmp_path: Path) -> None:
    code = (
        "import sys, torch, topoexp, topoexp.topology as t\n"
        "from topoexp.config.location import checkout_root, conf_dir\n"
        "assert 'site-packages' in topoexp.__file__, topoexp.__file__\n"
        "assert checkout_root() is None and (conf_dir() / 'config.yaml').is_file()\n"
        "x = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])\n"
        "print(t.rips_barcodes(x, maxdim=0)[0].deaths.tolist())"
    )
    done = _run([str(installed / "python"), "-c", code], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # three points: the two MST edges, of lengths 3 and 4, kill two components; one lives forever
    deaths = json.loads(done.stdout.strip().replace("inf", "Infinity"))
    assert sorted(deaths)[:2] == pytest.approx([3.0, 4.0])


def test_wheel_console_command_runs_a_tiny_job_elsewhere(installed: Path, tmp_path: Path) -> None:
    topoexp = str(installed / "topoexp")
    done = _run([topoexp, "+experiment=spheres/topoae", "debug=smoke", "hydra.run.dir=run"],
                cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs"] == 1.0
    config = (tmp_path / "run" / "config.yaml").read_text()
    assert f"root_dir: {tmp_path}" in config
    # an unknown option: one message with the valid ones
    done = _run([topoexp, "model=mlpp"], cwd=tmp_path)
    assert done.returncode == 2
    assert "did you mean 'mlp'?" in done.stderr and "Traceback" not in done.stderr
    # bash completion of the console command (what the installed completion function asks)
    line = "topoexp mod"
    done = _run([topoexp, "-sc", "query=bash"], cwd=tmp_path, COMP_LINE=line,
                COMP_POINT=str(len(line)))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "model=" in done.stdout.split()
    done = _run([topoexp, "--shell-completion", "install=bash"], cwd=tmp_path)
    assert done.returncode == 0 and "hydra_bash_completion topoexp" in done.stdout


def test_provenance_finds_the_repository_from_any_folder(tmp_path: Path, monkeypatch) -> None:
    from topoexp.records import provenance

    head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                          capture_output=True, text=True)  # fmt: skip
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    monkeypatch.chdir(tmp_path)
    record = provenance(tmp_path)  # a run root outside the repository
    assert record["git_commit"] == head.stdout.strip()
    assert record["packages"]["topoexp"] is not None


def _make_dry_run(*args: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("no make")
    venv = Path(sys.executable).parents[1]
    cmd = ["make", "-n", "-o", f"{venv}/.installed", f"VENV={venv}", *args]
    done = _run(cmd, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_reproduce_guards_committed_results_and_budget_runs_write_beside() -> None:
    protocol = _make_dry_run("reproduce-mnist")
    assert "git ls-files -- 'results/mnist'" in protocol and 'if [ -z "" ]' in protocol
    assert "--out results/mnist\n" in protocol and "topoexp.report\n" in protocol
    forced = _make_dry_run("reproduce-mnist", "FORCE=1")
    assert 'if [ -z "1" ]' in forced
    budget = _make_dry_run("reproduce-mnist", "IMAGE_SEEDS=1", "IMAGE_FLAGS=trainer.max_epochs=2")
    assert "git ls-files" not in budget and "rm -rf multirun/mnist\n" not in budget
    assert "hydra.sweep.dir=multirun/mnist-budget-" in budget
    assert "--out results/mnist/budget-" in budget
    homreg = _make_dry_run("reproduce-homreg", "HOMREG_FLAGS=trainer.max_epochs=10")
    assert "--out results/homreg/budget-" in homreg and "rm -rf multirun/homreg\n" not in homreg
