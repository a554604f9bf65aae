"""The report: tolerance, aggregation, specs, READMEs quoting the computed verdicts, counts."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO_ROOT
from topoexp.report import tables
from topoexp.report.__main__ import write_report
from topoexp.report.claims import fill_markers, marker_ids, slug
from topoexp.report.page import build_report
from topoexp.report.records import load_records
from topoexp.report.render import COLUMNS, html_page, markdown_page
from topoexp.report.spec import SpecError, load_spec, load_specs

SPECS = REPO_ROOT / "conf" / "report"
RESULTS = REPO_ROOT / "results"


# ------------------------------------------------------------------------------ tables


def test_tolerance_rules_by_hand():
    rel = tables.Tolerance("relative", 0.2)
    assert rel.within(1.2, 1.0) is True and rel.within(1.21, 1.0) is False
    assert rel.within(-0.81, -1.0) is True and rel.within(0.5, 0.0) is None
    assert rel.within(np.nan, 1.0) is None and rel.within(1.0, np.nan) is None
    assert tables.Tolerance("absolute", 0.05).within(0.33, 0.3) is True
    std = tables.Tolerance("paper_std", 2)
    assert std.within(1.5, 1.0, 0.3) is True and std.within(1.7, 1.0, 0.3) is False
    assert std.within(1.5, 1.0) is None  # no paper std: not compared
    with pytest.raises(ValueError, match="positive"):
        tables.Tolerance("relative", 0)


def test_aggregate_and_compare_by_hand():
    runs = pd.DataFrame(
        {"method": ["b", "a", "a", "b"], "x": [1.0, 2.0, 4.0, 3.0], "y": [1, 1, 1, np.nan]}
    )
    table = tables.aggregate(runs, ["method"], ["x", "y"], order=["a"])
    assert list(table.index) == [("a",), ("b",)]
    assert table.loc[[("a",)], "x_mean"].iloc[0] == 3.0
    assert table.loc[[("a",)], "x_std"].iloc[0] == 1.0  # ddof = 0
    assert table.loc[[("b",)], "y_std"].iloc[0] == 0.0 and table["n"].tolist() == [2, 2]
    paper = pd.DataFrame({"method": ["a", "b"], "x": [2.0, 2.5], "x_std": [0.1, 0.1]})
    long = tables.compare(table, paper, ["method"], ["x", "y"], tables.Tolerance("relative", 0.2))
    cells = {
        (r[0], m): (dev, w) for r, m, dev, w in long[["row", "metric", "rel_dev", "within"]].values
    }
    assert cells[("a", "x")][0] == pytest.approx(0.5) and cells[("a", "x")][1] is False
    assert cells[("b", "x")][0] == pytest.approx(-0.2) and cells[("b", "x")][1] is True
    assert cells[("a", "y")][1] is None  # no paper value: shown, not compared
    assert long["paper_std"].dropna().tolist() == [0.1, 0.1]


# ------------------------------------------------------------------------------- specs


def _spec(tmp_path: Path, **overrides) -> Path:
    data = {
        "paper": "toy",
        "title": "Toy paper",
        "results": [{"path": "results/toy"}],
        "tables": [
            {
                "id": "t",
                "title": "T",
                "source": "results/toy/runs.csv",
                "rows": ["method"],
                "metrics": ["x"],
                "reference": {"csv": "toy.csv"},
                "tolerance": {"kind": "relative", "value": 0.1},
            }
        ],
    } | overrides
    path = tmp_path / "conf" / "report" / "toy.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_bad_spec_names_the_key(tmp_path):
    path = _spec(tmp_path, colour="red")
    with pytest.raises(SpecError, match="colour"):
        load_spec(path)
    bad = {"id": "t", "title": "T", "source": "s.csv", "rows": ["m"], "kind": "median"}
    with pytest.raises(SpecError, match=r"tables\.0\.kind"):
        load_spec(_spec(tmp_path, tables=[bad]))
    no_tol = {"id": "t", "title": "T", "source": "s.csv", "rows": ["m"], "reference": {"csv": "r"}}
    with pytest.raises(SpecError, match=r"tables\.t\.tolerance"):
        load_spec(_spec(tmp_path, tables=[no_tol]))


def test_toy_spec_end_to_end(tmp_path):
    """A new paper is one spec file and its results: cells, flags and counts by hand."""
    path = _spec(tmp_path, figures=[{"path": "results/toy/f.png", "caption": "a figure"}])
    toy = tmp_path / "results" / "toy"
    toy.mkdir(parents=True)
    pd.DataFrame({"method": ["a", "a", "b"], "seed": [1, 2, 1], "x": [1.0, 3.0, 5.0]}).to_csv(
        toy / "runs.csv", index=False
    )
    (tmp_path / "results" / "reference").mkdir()
    pd.DataFrame({"method": ["a", "b"], "x": [2.1, 4.0]}).to_csv(
        tmp_path / "results" / "reference" / "toy.csv", index=False
    )
    (toy / "f.png").write_bytes(b"\x89PNG")
    (toy / "README.md").write_text(
        "# Toy\n\n## Claims\n\nThe toy claim: <!-- verdict:c -->**?**<!-- /verdict -->.\n"
    )
    rule = {"id": "c", "claim": "toy", "kind": "better", "table": "t", "metric": "x"}
    spec = yaml.safe_load(path.read_text())
    spec["claims"] = [rule | {"row": "b", "against": ["a"], "lower_is_better": False}]
    spec["claims"][0] |= {"min_seeds": 1, "protocol": {"seeds": 1}}
    path.write_text(yaml.safe_dump(spec, allow_unicode=True))
    report = write_report(tmp_path)
    # a: mean 2 vs 2.1 over 2 seeds (sample std √2): tolerance from our seeds,
    # 2 · √2 · √(1/2 + 1/5) + 0.05 (half the paper's last digit) = 2.42, within;
    # b: one seed, the default ±10 % of 4 = 0.4: 5 vs 4 (+25 %) outside
    assert (report.summary.cells_within, report.summary.cells_compared) == (1, 2)
    # b's single seed (5) against a's 2 ± 1: no noise on b, a's se 1 / 1 = 1; gap 3 > 2
    assert report.summary.claims_reproduced == 1 and report.summary.claims_checked == 1
    readme = (toy / "README.md").read_text()
    assert "The toy claim: <!-- verdict:c -->**reproduced**<!-- /verdict -->." in readme
    md = (tmp_path / "results" / "README.md").read_text()
    assert "| a | 2 | 2 ± 1 (2.1, -4.8 %; tol ±2.42 (our seeds)) |" in md
    assert "| b | 1 | 5 (4, +25.0 %; tol ±0.4000 (default)) † |" in md
    assert "Tolerance per cell from: our seeds 1, default 1." in md
    assert "![a figure](toy/f.png)" in md
    page = (tmp_path / "results" / "index.html").read_text()
    assert 'src="toy/f.png"' in page and 'href="toy/README.md#verdicts"' in page


def test_missing_figure_or_source_is_an_error(tmp_path):
    _spec(tmp_path, figures=[{"path": "results/toy/nope.png", "caption": "x"}], tables=[])
    (tmp_path / "results" / "toy").mkdir(parents=True)
    (tmp_path / "results" / "toy" / "README.md").write_text("# Toy\n")
    with pytest.raises(SpecError, match=r"nope\.png"):
        build_report(tmp_path)


# ------------------------------------------------------------------------------ claims


def _result_dirs() -> list[Path]:
    return [REPO_ROOT / r.path for s in load_specs(SPECS) for r in s.results]


@pytest.mark.parametrize("results", _result_dirs(), ids=lambda p: p.relative_to(RESULTS).as_posix())
def test_every_readme_verdict_is_a_computed_one(results):
    """No transcribed claims file; every verdict marker of a README names a rule of its results
    and holds the verdict the rule computed."""
    assert not (results / "claims.yaml").exists()
    report = build_report(REPO_ROOT)
    rel = results.relative_to(REPO_ROOT).as_posix()
    decided = {c.id: c.verdict for s in report.sections for p, c in s.claims if p.spec.path == rel}
    readme = (results / "README.md").read_text()
    assert set(marker_ids(readme)) <= set(decided)
    assert fill_markers(readme, decided) == readme, f"{rel}/README.md is stale: make report"
    assert "partly" not in readme.split("<!-- verdicts: written by make report -->")[-1]


def test_a_transcribed_claims_file_is_refused(tmp_path):
    _spec(tmp_path, tables=[])
    toy = tmp_path / "results" / "toy"
    toy.mkdir(parents=True)
    (toy / "README.md").write_text("# Toy\n")
    (toy / "claims.yaml").write_text("claims: []\n")
    with pytest.raises(SpecError, match="transcribed verdicts"):
        build_report(tmp_path)


def test_markers_are_filled_and_unknown_ones_refused():
    text = "a <!-- verdict:x -->**old**<!-- /verdict --> b"
    assert fill_markers(text, {"x": "not run"}) == (
        "a <!-- verdict:x -->**not run**<!-- /verdict --> b"
    )
    with pytest.raises(KeyError, match="'x'"):
        fill_markers(text, {"y": "reproduced"})


def test_github_heading_anchor():
    assert slug("The paper's claims, decided") == "the-papers-claims-decided"
    assert slug("MNIST (partial: `mnist/`)") == "mnist-partial-mnist"
    assert slug("4. The AE's samples cover few classes — **reproduced**") == (
        "4-the-aes-samples-cover-few-classes--reproduced"
    )


# ---------------------------------------------------------------------- committed page


def test_committed_report_is_up_to_date():
    """results/index.html and README.md are what `make report` writes from the results."""
    report = build_report(REPO_ROOT)
    fresh = {
        "index.html": html_page(report, REPO_ROOT, RESULTS),
        "README.md": markdown_page(report, REPO_ROOT, RESULTS),
    }
    for name, text in fresh.items():
        committed = _undated((RESULTS / name).read_text())
        assert committed == _undated(text), f"results/{name} is stale: run `make report`"


def _undated(text: str) -> str:
    """Provenance dates come from git history, which a shallow clone or an archive lacks."""
    return re.sub(
        r"(<td>|\| )(\d{4}-\d{2}-\d{2}|unknown)(</td></tr>| \|$)", r"\1DATE\3", text, flags=re.M
    )


def _page_count(page: str, key: str) -> int:
    match = re.search(rf'id="{key}" data-value="(\d+)"', page)
    assert match, key
    return int(match.group(1))


def test_summary_counts_equal_those_of_the_results_directories():
    """Cells: TopoAE's Table-1 cells with a paper value (the study's are context), the attack
    success rates not saturated at 100 %, the generator's Figure-10 cells; claims: the rules of
    the specs, and nothing else."""
    page = (RESULTS / "index.html").read_text()
    compared = 0
    for d in ("spheres", "mnist", "fmnist"):
        long = pd.read_csv(RESULTS / d / "tables" / f"topoae_{d}.csv")
        compared += int((long["paper"].notna() & long["ours_mean"].notna()).sum())
    context = 0
    for table in ("study_spheres", "study_mnist"):
        long = pd.read_csv(RESULTS / "reproduction_study/tables" / f"{table}.csv")
        context += int(long["paper"].notna().sum())
    columns = {"eps": "task.eps", "steps": "task.steps"}
    runs = load_records(RESULTS / "topology_layer/attacks/runs", columns)
    runs["model"] = runs["method"].str.removeprefix("attack_")
    ours = runs[(runs.eps == 0.3) & (runs.steps == 100)].set_index("model").attack_success_rate
    paper = pd.read_csv(RESULTS / "reference/topology_layer_attacks.csv").set_index("target_model")
    both = pd.concat([ours, paper.attack_success_rate], axis=1, join="inner").dropna()
    saturated = int((both >= 0.99).all(axis=1).sum())
    compared += len(both) - saturated
    compared += 2 * 5 * 2  # generator: 2 models with paper values × 5 metrics × 2 seeds
    assert _page_count(page, "cells-compared") == compared
    assert context == 56 and saturated == 2
    report = build_report(REPO_ROOT)
    counts = Counter(c.verdict for s in report.sections for _, c in s.claims)
    for category in COLUMNS:
        assert _page_count(page, f"claims-{category.replace(' ', '-')}") == counts[category]
    assert _page_count(page, "claims-checked") == sum(counts.values()) - counts["not run"]
    rules = sum(len(s.spec.claims) for s in report.sections)
    assert sum(len(p.claims) for s in report.sections for p in s.parts) == rules
    assert "partly" not in page


def test_every_spec_section_table_and_figure_is_on_the_page():
    page = (RESULTS / "index.html").read_text()
    md = (RESULTS / "README.md").read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    for spec in load_specs(SPECS):
        assert f'<section id="{spec.paper}"' in page and f"## {spec.title}" in md
        for table in spec.tables:
            if table.optional and not (REPO_ROOT / table.source).is_file():
                assert f'data-table="{table.id}"' not in page  # its claims are not run
                continue
            assert f'data-table="{table.id}"' in page and f"### {table.title}" in md
        for figure in spec.figures:
            rel = Path(figure.path).relative_to("results").as_posix()
            assert f'src="{rel}"' in page and f"]({rel})" in md
            assert (REPO_ROOT / figure.path).is_file()
