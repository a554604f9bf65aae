"""Results that regenerate: every table, figure and claim from the run records under
``results/*/runs/``, identical to the committed files; a changed metric changes its verdict."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import matplotlib
import pytest
import yaml

from tests.conftest import REPO_ROOT
from topoexp.report.__main__ import write_report
from topoexp.report.page import build_report
from topoexp.report.records import CONVERTED, FULL, export_run, load_records
from topoexp.report.spec import SpecError, load_specs

RESULTS = REPO_ROOT / "results"
#: Table sources that are not run records: a benchmark's output (no training run behind it).
NOT_RECORDS = {"results/homreg/bench_steps.json"}


def _software(png: bytes) -> str:
    """The ``Software`` text chunk matplotlib writes into a PNG."""
    match = re.search(rb"tEXtSoftware\x00([^\x00]*?)(?:, https|\x00)", png)
    return match.group(1).decode() if match else ""


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    into = tmp_path_factory.mktemp("rebuilt")
    write_report(REPO_ROOT, into)
    return into


def test_every_table_figure_and_claim_rebuilds_identical(rebuilt):
    written = sorted(p.relative_to(rebuilt) for p in rebuilt.rglob("*") if p.is_file())
    assert len(written) > 60
    stale, missing, other_matplotlib = [], [], []
    for rel in written:
        committed = REPO_ROOT / rel
        if not committed.is_file():
            missing.append(str(rel))
            continue
        fresh, old = (rebuilt / rel).read_bytes(), committed.read_bytes()
        if fresh == old:
            continue
        if rel.suffix == ".png" and _software(old) != f"Matplotlib version{matplotlib.__version__}":
            other_matplotlib.append(str(rel))  # drawn by another matplotlib: not comparable
            continue
        stale.append(str(rel))
    assert missing == [], f"written but not committed: {missing}; run `make report`"
    assert stale == [], f"stale: {stale}; run `make report`"
    pngs = [r for r in written if r.suffix == ".png"]
    assert pngs and len(other_matplotlib) < len(pngs), "no figure could be compared"


def test_no_committed_table_is_left_unwritten(rebuilt):
    """Every file under a results ``tables/`` folder, and every verdicts.md, comes from the
    specs: nothing committed there that ``make report`` no longer writes."""
    committed = [*RESULTS.rglob("tables/*"), *RESULTS.rglob("verdicts.md")]
    assert committed
    orphans = [
        str(p.relative_to(REPO_ROOT))
        for p in committed
        if not (rebuilt / p.relative_to(REPO_ROOT)).is_file()
    ]
    assert orphans == []


def test_every_table_reads_run_records():
    specs = load_specs(REPO_ROOT / "conf" / "report")
    sources = [t.source for s in specs for t in s.tables if not t.optional]  # optional: not shown
    others = sorted({s for s in sources if not (REPO_ROOT / s).is_dir()} - NOT_RECORDS)
    assert others == [], f"tables that do not read run records: {others}"


def _copy_tree(tmp_path: Path) -> Path:
    for part in ("conf/report", "results"):
        shutil.copytree(REPO_ROOT / part, tmp_path / part)
    return tmp_path


def _verdict(report, claim_id: str) -> str:
    found = [c for s in report.sections for _, c in s.claims if c.id == claim_id]
    assert len(found) == 1, claim_id
    return found[0].verdict


def test_changing_one_run_metric_changes_the_verdict_and_the_files(tmp_path):
    root = _copy_tree(tmp_path)
    before = build_report(root)
    assert _verdict(before, "spheres-topoae-lowest-kl001") == "reproduced"
    runs = load_records(root / "results/spheres/runs")
    record = sorted(runs[runs["method"] == "topoae"]["run"])[0]
    path = root / "results/spheres/runs" / record / "metrics.json"
    metrics = json.loads(path.read_text())
    path.write_text(json.dumps(metrics | {"kl_0.01": 5.0}))  # one seed far worse than any method
    write_report(root)
    after = build_report(root)
    assert _verdict(after, "spheres-topoae-lowest-kl001") != "reproduced"
    assert after.summary.verdicts["reproduced"] == before.summary.verdicts["reproduced"] - 1
    for rel in ("results/spheres/tables/topoae_spheres.md", "results/spheres/verdicts.md"):
        assert (root / rel).read_text() != (REPO_ROOT / rel).read_text(), rel
    readme = (root / "results/spheres/README.md").read_text()
    assert "- SPHERES: TopoAE has the lowest KL_0.01 of all methods: **reproduced**" not in readme


def test_the_report_shows_full_and_converted_records_per_table():
    report = build_report(REPO_ROOT)
    tables = {t.spec.id: t for s in report.sections for t in s.tables}
    mnist = tables["topoae_mnist"].provenance
    assert mnist is not None and mnist.full >= 1 and mnist.converted >= 1
    assert mnist.full + mnist.converted == mnist.n
    page = (RESULTS / "README.md").read_text()
    assert f"`results/mnist/runs`, {mnist.kinds()}; {mnist.code()}" in page
    assert tables["homreg_step_time"].provenance is None


def test_committed_records_are_complete_and_name_no_machine_path():
    records = sorted({p.parent for p in RESULTS.rglob("runs/**/metrics.json")})
    assert len(records) > 150
    machine = re.compile(r"(?<![<\w])/(work|tmp|home|root|Users|mnt|scratch)/")
    for record in records:
        for name in ("config.yaml", "metrics.json", "status.json", "provenance.json"):
            text = (record / name).read_text()
            assert not machine.search(text), f"{record / name} names a machine path"
        provenance = json.loads((record / "provenance.json").read_text())
        status = json.loads((record / "status.json").read_text())
        assert status["status"] == "completed", record
        if "source" in provenance:  # converted: where it came from, a commit only if recorded
            assert "record made before run directories were committed" in provenance["source"]
        else:  # full: the commit that ran the code and whether its tree was dirty
            assert provenance["git_commit"] and provenance["git_dirty"] in (True, False), record
        assert not list(record.rglob("*.pt")) and not list(record.rglob("checkpoints")), record


def _fake_run(root: Path, name: str, seed: int, status: str = "completed") -> Path:
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    top = root.parent
    paths = {"output_dir": str(run), "root_dir": str(top), "data_dir": str(top / "data")}
    config = {"method": "pca", "seed": seed, "dataset": {"name": "spheres"}, "paths": paths}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "metrics.json").write_text(json.dumps({"kl_0.1": 0.5 + seed}))
    (run / "status.json").write_text(json.dumps({"status": status, "ended": "2026-01-02T00:00"}))
    argv = [f"{top}/x.py", f"hydra.sweep.dir={root}"]  # the multirun's folder: <sweep_dir>
    prov = {"git_commit": "abc1234def", "git_dirty": seed == 2, "argv": argv}
    (run / "provenance.json").write_text(json.dumps(prov))
    (run / ".hydra" / "overrides.yaml").write_text("- +experiment=spheres/pca\n")
    (run / "checkpoints").mkdir()
    (run / "latents.npz").write_bytes(b"x")
    return run


def test_export_and_load_records(tmp_path):
    runs = tmp_path / "multirun"
    for seed in (1, 2):
        export_run(_fake_run(runs, f"r{seed}", seed), tmp_path / "records", arrays=["latents.npz"])
    export_run(_fake_run(runs, "r3", 3, status="failed"), tmp_path / "records")
    record = tmp_path / "records" / "pca_1"
    assert sorted(p.name for p in record.iterdir()) == [
        "config.yaml", "latents.npz", "metrics.json", "overrides.yaml", "provenance.json",
        "status.json",
    ]  # fmt: skip
    texts = "".join(p.read_text() for p in record.glob("*.[jy]*"))
    assert str(tmp_path) not in texts and "hydra.sweep.dir=<sweep_dir>" in texts
    frame = load_records(tmp_path / "records")
    assert list(frame["run"]) == ["pca_1", "pca_2"] and frame.attrs["skipped"] == ["pca_3 (failed)"]
    assert set(frame["record"]) == {FULL} and list(frame["git_dirty"]) == [False, True]
    assert list(frame["experiment"]) == ["spheres/pca"] * 2 and list(frame["kl_0.1"]) == [1.5, 2.5]
    (record / "provenance.json").write_text(json.dumps({"source": "x.csv"}))
    assert load_records(tmp_path / "records")["record"].tolist() == [CONVERTED, FULL]


def test_a_row_of_full_records_of_different_settings_is_refused(tmp_path):
    for seed in (1, 2):
        export_run(
            _fake_run(tmp_path / "multirun", f"r{seed}", seed), tmp_path / "results/toy/runs"
        )
    (tmp_path / "results/toy/README.md").write_text("# Toy\n")
    table = {"id": "t", "title": "T", "source": "results/toy/runs", "rows": ["method"]}
    spec = {"paper": "toy", "title": "Toy", "results": [{"path": "results/toy"}], "tables": [table]}
    (tmp_path / "conf/report").mkdir(parents=True)
    (tmp_path / "conf/report/toy.yaml").write_text(yaml.safe_dump(spec))
    assert build_report(tmp_path).sections[0].tables[0].provenance.full == 2
    config = tmp_path / "results/toy/runs/pca_2/config.yaml"
    config.write_text(config.read_text() + "trainer: {max_epochs: 3}\n")
    with pytest.raises(SpecError, match=r"trainer\.max_epochs"):
        build_report(tmp_path)
