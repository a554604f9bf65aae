"""The share of the protocol's budget (seeds × epochs) behind each results directory."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import REPO_ROOT
from topoexp.report.budget import part_budget
from topoexp.report.page import BuiltTable, build_report
from topoexp.report.spec import ResultsSpec, TableSpec


def _table(source: str, n: list[int | None], epochs: float | None = None) -> BuiltTable:
    spec = TableSpec(id=source, title="t", source=source, rows=["m"], epochs=epochs)
    ours = pd.DataFrame({"n": n}, index=[(f"r{i}",) for i in range(len(n))])
    return BuiltTable(spec, pd.DataFrame(), [], list(ours.index), False, None, ours)


def test_share_by_hand():
    results = ResultsSpec(path="results/x", protocol={"seeds": 5, "epochs": 100}, epochs=25)
    built = [
        _table("results/x/runs.csv", [5, 1]),  # 25 % and 5 % of the protocol
        _table("results/x/long.csv", [1], epochs=100),  # 20 %
        _table("results/y/runs.csv", [5]),  # another directory: not counted
    ]
    budget = part_budget(results, built, ["results/x", "results/y"])
    assert budget is not None
    assert budget.share == pytest.approx((0.25 + 0.05 + 0.2) / 3)
    assert "mean over 3 rows" in budget.text
    assert part_budget(ResultsSpec(path="results/x"), built, ["results/x"]) is None


def test_values_tables_use_the_directorys_seeds_and_nested_directories_are_apart():
    results = ResultsSpec(path="results/a", protocol={"seeds": 2, "epochs": 50}, seeds=1, epochs=1)
    built = [_table("results/a/v.csv", [None, None]), _table("results/a/b/v.csv", [2])]
    budget = part_budget(results, built, ["results/a", "results/a/b"])
    assert budget is not None and budget.share == pytest.approx(0.5 * 0.02)


def test_every_committed_results_directory_states_its_budget():
    report = build_report(REPO_ROOT)
    for section in report.sections:
        assert section.summary.budget_share is not None, section.spec.paper
        for part in section.parts:
            assert part.budget is not None and 0 < part.budget.share <= 1, part.spec.path
    shares = {p.spec.path: p.budget.share for s in report.sections for p in s.parts}
    assert shares["results/spheres"] == 1.0  # 5 seeds × 100 epochs for every method
    assert shares["results/corel"] == pytest.approx(1 / 50)
    page = (REPO_ROOT / "results" / "README.md").read_text()
    assert "spheres 100 % (5 of 5 seeds, 100 of 100 epochs" in page
