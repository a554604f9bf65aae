"""``scripts/device_campaign.py`` rehearsed on the CPU at tiny sizes: prepare (data only, no
network), run two smoke seeds within a budget, pack, unpack byte for byte; the refusals (size,
budget, overwrite, command length, an ensemble the trainer lacks) and the archive splitter."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "device_campaign.py"
sys.path.insert(0, str(REPO_ROOT / "scripts"))

from campaign import packing, runner  # noqa: E402
from campaign.limits import FILE_LIMIT, RAW_FILES, MiB  # noqa: E402
from campaign.plan import PlanError, device_command  # noqa: E402
from campaign.prepare import tree_bytes  # noqa: E402

FOLDERS = {"mnist": "MNIST", "fmnist": "FashionMNIST"}


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, str(SCRIPT), *map(str, args)]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    """Stand-ins for the official raw files (random bytes, 64 KiB each)."""
    root = tmp_path / "data-root"
    for i, folder in enumerate(FOLDERS.values()):
        for j, name in enumerate(RAW_FILES):
            path = root / folder / "raw" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(64 << 10) + bytes([i, j]))
    return root


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_rehearsal_prepare_run_unpack(tmp_path: Path, data_root: Path) -> None:
    carried = tmp_path / ".device"
    done = cli(
        "prepare",
        "--experiments",
        "spheres/topoae",
        "--data",
        "mnist",
        "--no-wheels",
        "--data-root",
        data_root,
        "--dir",
        carried,
    )
    assert done.returncode == 0, done.stderr
    assert "total" in done.stdout and "room" in done.stdout
    manifest = json.loads((carried / "manifest.json").read_text())
    assert [e["target"] for e in manifest["files"]] == [f"MNIST/raw/{n}" for n in RAW_FILES]
    for entry in manifest["files"]:
        packed = carried / entry["file"]
        assert packed.suffix == ".gz" and _sha(packed) == entry["sha256"]
        assert gzip.decompress(packed.read_bytes()) == (data_root / entry["target"]).read_bytes()
    assert not (carried / "wheels").exists()

    out, runs, device_data = tmp_path / "out", tmp_path / "device" / "multirun", tmp_path / "dd"
    done = cli(
        "run",
        "--experiments",
        "spheres/topoae",
        "--seeds",
        "1,2",
        "--budget-s",
        "400",
        "--out",
        out,
        "--runs",
        runs,
        "--name",
        "rehearsal",
        "--carried",
        carried,
        "--data-root",
        device_data,
        "--extra",
        "debug=smoke",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name in RAW_FILES:  # the data placed where the loaders look
        assert _sha(device_data / "MNIST" / "raw" / name) == _sha(data_root / "MNIST/raw" / name)
    record = json.loads((out / "campaign.json").read_text())
    outcome = [(r["seeds"], r["status"]) for r in record["runs"]]
    assert outcome == [([1], "completed"), ([2], "completed")]
    assert sorted(p.name for p in out.iterdir()) == ["campaign.json", "runs-01.tar.xz"]
    for archive in record["archives"]:
        assert (out / archive["file"]).stat().st_size <= FILE_LIMIT
        with tarfile.open(out / archive["file"]) as tar:
            names = tar.getnames()
        assert not [n for n in names if "checkpoints/" in n or n.endswith(".pt")]
        assert "rehearsal/spheres/topoae/1/metrics.json" in names
    assert (runs / "rehearsal/spheres/topoae/1/checkpoints").is_dir()  # left behind, not packed

    into, results = tmp_path / "here" / "multirun", tmp_path / "results"
    done = cli("unpack", out, "--into", into, "--results", results, "--no-report")
    assert done.returncode == 0, done.stderr
    assert "2 completed" in done.stdout
    for seed in (1, 2):
        run = f"rehearsal/spheres/topoae/{seed}"
        for name in ("metrics.json", "config.yaml", "status.json", "latents.npz"):
            assert (into / run / name).read_bytes() == (runs / run / name).read_bytes()
        assert not (into / run / "checkpoints").exists()
    records = results / "spheres" / "rehearsal" / "runs"  # records beside the committed ones
    assert sorted(p.name for p in records.iterdir()) == ["topoae_1", "topoae_2"]
    for seed in (1, 2):
        record = records / f"topoae_{seed}" / "metrics.json"
        assert (
            record.read_bytes()
            == (runs / f"rehearsal/spheres/topoae/{seed}/metrics.json").read_bytes()
        )

    again = cli("unpack", out, "--into", into, "--tables", "none", "--no-report")
    assert again.returncode == 2 and "refused" in again.stderr and "--force" in again.stderr
    forced = cli("unpack", out, "--into", into, "--tables", "none", "--no-report", "--force")
    assert forced.returncode == 0, forced.stderr


def test_prepare_refuses_what_does_not_fit(tmp_path: Path, data_root: Path) -> None:
    limit = (tree_bytes(REPO_ROOT) + (256 << 10)) / MiB  # room for 256 KiB; 1 MiB of data
    carried = tmp_path / ".device"
    done = cli(
        "prepare",
        "--experiments",
        "mnist/ae",
        "--data",
        "mnist,fmnist",
        "--no-wheels",
        "--data-root",
        data_root,
        "--dir",
        carried,
        "--limit-mib",
        f"{limit:.6f}",
    )
    assert done.returncode == 2
    assert "refused" in done.stderr and "split the data sets over calls" in done.stderr
    assert not carried.exists() and not carried.with_name(".device.partial").exists()


def _options(tmp_path: Path, **changes) -> runner.Options:
    values = dict(
        experiments=["a", "b"],
        seeds=[1, 2, 3],
        budget_s=100.0,
        out=tmp_path / "out",
        runs=tmp_path / "multirun",
        name="c",
        repo=REPO_ROOT,
        reserve_s=0.0,
    )
    return runner.Options(**{**values, **changes})


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake_jobs(monkeypatch: pytest.MonkeyPatch):
    """Jobs that take a set time on a fake clock and write a run directory with a checkpoint."""
    clock = FakeClock()
    monkeypatch.setattr(runner, "clock", clock)
    monkeypatch.setattr(runner, "trainer_keys", lambda opts, experiment: {"device"})
    durations: dict[str, float] = {}
    stop_at: list[str] = []

    def execute(opts, job, argv, timeout):
        if job.run_dir in stop_at:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler raises in here
        run_dir = opts.runs / job.run_dir
        (run_dir / "checkpoints").mkdir(parents=True)
        (run_dir / "checkpoints" / "last.pt").write_bytes(b"x" * 1000)
        (run_dir / "metrics.json").write_text(json.dumps({"seed": job.seeds[0]}))
        took = durations[job.experiment]
        clock.now += min(took, timeout)
        status = "completed" if took <= timeout else "timeout"
        job.record.update(status=status, duration_s=min(took, timeout))

    monkeypatch.setattr(runner, "execute", execute)
    return durations, stop_at


def test_budget_skips_runs_it_cannot_finish(tmp_path: Path, fake_jobs) -> None:
    durations, _ = fake_jobs
    durations.update(a=30.0, b=50.0)
    code = runner.campaign(_options(tmp_path))
    record = json.loads((tmp_path / "out" / "campaign.json").read_text())
    outcome = [(r["experiment"], r["seeds"][0], r["status"]) for r in record["runs"]]
    assert outcome[:2] == [("a", 1, "completed"), ("b", 1, "completed")]
    assert {s for _, _, s in outcome[2:]} == {"skipped"}  # a takes 30 s, 20 s are left
    assert "first run took 30 s" in record["runs"][2]["reason"]
    assert code == 1 and record["summary"] == {"completed": 2, "skipped": 4}
    assert len(record["archives"]) == 1 and not any(
        name.endswith(".pt") for name in record["archives"][0]["files"]
    )


def test_a_budget_too_small_records_skips(tmp_path: Path, fake_jobs) -> None:
    durations, _ = fake_jobs
    durations.update(a=1.0, b=1.0)
    code = runner.campaign(_options(tmp_path, budget_s=0.5))
    record = json.loads((tmp_path / "out" / "campaign.json").read_text())
    assert code == 1 and record["summary"] == {"skipped": 6} and record["archives"] == []
    assert all(r["reason"].startswith("budget") for r in record["runs"])


def test_sigterm_packs_what_finished(tmp_path: Path, fake_jobs) -> None:
    durations, stop_at = fake_jobs
    durations.update(a=1.0, b=1.0)
    stop_at.append("c/a/2")
    code = runner.campaign(_options(tmp_path))
    record = json.loads((tmp_path / "out" / "campaign.json").read_text())
    assert code == 128 + signal.SIGTERM and record["stopped_by"] == "SIGTERM"
    assert [r["status"] for r in record["runs"]][:2] == ["completed", "completed"]
    assert sorted(record["archives"][0]["runs"]) == ["c/a/1", "c/b/1"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_ensemble_needs_the_trainer_option(tmp_path: Path, fake_jobs) -> None:
    with pytest.raises(runner.CampaignError, match=r"trainer\.ensemble"):
        runner.campaign(_options(tmp_path, ensemble=True))
    opts = _options(tmp_path, ensemble=True)
    job = runner.jobs(opts)[0]
    assert job.seeds == [1, 2, 3] and job.run_dir == "c/a/ensemble-1-2-3"
    assert "trainer.ensemble=[1,2,3]" in runner.command(opts, job, {"device", "ensemble"})


def test_command_length_is_checked() -> None:
    line = device_command(experiments=["mnist/ae", "mnist/topoae"], seeds=[0, 1], budget_s=540)
    assert len(line) <= 2000 and line.endswith('--out "$OUT"')
    assert "--target /tmp/site .device/wheels/*.whl" in line
    with pytest.raises(PlanError, match="2000"):
        device_command(experiments=["spheres/topoae"] * 200, seeds=[0], budget_s=540)
    done = cli("plan", "--experiments", ",".join(["homreg/mnist/ae_2"] * 120), "--seeds", "0")
    assert done.returncode == 2 and "characters" in done.stderr
    done = cli("plan", "--experiments", "spheres/topoae", "--seeds", "0,1", "--timeout-s", "300")
    assert done.returncode == 0 and "--budget-s 240" in done.stdout


def _run_dirs(root: Path, n: int, size: int) -> list[packing.Unit]:
    units = []
    for i in range(n):
        run = root / "camp" / f"run{i:02d}"
        run.mkdir(parents=True)
        for name in ("metrics.json", "latents.npz", "history.json"):
            (run / name).write_bytes(os.urandom(size // 3))
        files, left_out = packing.select_files(run, keep_checkpoints=False, max_file=FILE_LIMIT)
        units.append(packing.Unit(f"camp/run{i:02d}", files, left_out))
    return units


def test_splitter_keeps_every_archive_under_the_limit(tmp_path: Path) -> None:
    units = _run_dirs(tmp_path / "runs", 12, 60 << 10)  # about 60 KiB each, incompressible
    limit = 200 << 10
    archives, dropped = packing.pack(tmp_path / "runs", units, tmp_path / "out", limit, 7)
    assert not dropped and len(archives) >= 4
    seen = [run for a in archives for run in a["runs"]]
    assert sorted(seen) == sorted(u.name for u in units)  # each run directory in one archive
    for archive in archives:
        path = tmp_path / "out" / archive["file"]
        assert path.stat().st_size == archive["bytes"] <= limit
        with tarfile.open(path) as tar:
            assert {n.rsplit("/", 1)[0] for n in tar.getnames()} == set(archive["runs"])
    few, dropped = packing.pack(tmp_path / "runs", units, tmp_path / "few", limit, 2)
    assert len(few) == 2 and dropped and len(dropped) + sum(len(a["runs"]) for a in few) == 12
    _, too_big = packing.plan([packing.Unit("huge", [], size=limit + 1)], limit, 7)
    assert [u.name for u in too_big] == ["huge"]
