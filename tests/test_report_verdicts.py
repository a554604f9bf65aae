"""Claims as rules: verdicts decided by hand-computed cases, bounded metrics, and a changed run
metric that changes the committed page's verdict."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO_ROOT
from topoexp.report import tables
from topoexp.report.__main__ import write_report
from topoexp.report.page import _judge_bounded, build_report
from topoexp.report.verdicts import ClaimRule, decide


def _ours(rows: dict[str, list[float]]) -> pd.DataFrame:
    runs = pd.DataFrame(
        [{"method": m, "seed": i, "kl": v} for m, vs in rows.items() for i, v in enumerate(vs)]
    )
    return tables.aggregate(runs, ["method"], ["kl"])


def _rule(**kw) -> ClaimRule:
    base = {"id": "x", "claim": "a beats b", "kind": "better", "table": "t", "metric": "kl"}
    return ClaimRule(**{**base, **kw})


def test_better_by_hand():
    # a: mean 1.0, population std 0.1 over 5 seeds -> se 0.1 / 2 = 0.05; b the same at 1.5
    ours = _ours({"a": [0.9, 1.1, 0.9, 1.1, 1.0], "b": [1.4, 1.6, 1.4, 1.6, 1.5]})
    std = np.std([0.9, 1.1, 0.9, 1.1, 1.0])
    se = std / math.sqrt(4)
    assert 2 * math.sqrt(2) * se < 0.5  # the gap is beyond two standard errors
    assert decide(_rule(row="a", against=["b"]), ours).verdict == "reproduced"
    assert decide(_rule(row="b", against=["a"]), ours).verdict == "not reproduced"
    reduced = decide(_rule(row="a", against=["b"], protocol={"seeds": 10}), ours)
    assert reduced.verdict == "reproduced at a reduced budget" and reduced.budget_share == 0.5
    epochs = decide(_rule(row="a", against=["b"], protocol={"epochs": 100}, epochs=25), ours)
    assert epochs.budget_share == 0.25 and "25 of 100 epochs" in epochs.numbers


def test_within_two_standard_errors_or_too_few_seeds_is_inconclusive():
    # MNIST's KL_0.1 case: gap 0.006 against a two-seed se of about 0.012
    ours = _ours({"topoae": [0.0929, 0.1283], "ae": [0.1065, 0.1275], "tsne": [0.102]})
    assert decide(_rule(row="topoae", against=["ae"]), ours).verdict == "inconclusive"
    assert decide(_rule(row="tsne", against=["ae"]), ours).verdict == "inconclusive"
    best = _rule(kind="best", row="topoae")
    assert decide(best, ours).verdict == "inconclusive"


def test_range_and_not_run():
    ours = _ours({"topmodel": [0.9585]})
    rule = _rule(kind="range", row="topmodel", low=0.8, high=0.85, min_seeds=1)
    assert decide(rule, ours).verdict == "not reproduced"
    assert decide(rule.model_copy(update={"high": 0.97}), ours).verdict.startswith("reproduced")
    gone = decide(ClaimRule(id="c", claim="CIFAR", kind="not_run", reason="no data"), None)
    assert (gone.verdict, gone.numbers, gone.budget_share) == ("not run", "no data", None)


def test_unknown_row_or_metric_is_an_error():
    ours = _ours({"a": [1.0, 1.1], "b": [2.0, 2.1]})
    with pytest.raises(KeyError, match="no single row"):
        decide(_rule(row="c", against=["a"]), ours)
    with pytest.raises(KeyError, match="no metric"):
        decide(_rule(row="a", against=["b"], metric="rmse"), ours)


def test_bounded_metric_fails_when_another_rows_paper_value_is_as_near():
    long = pd.DataFrame(
        {
            "row": [("ae",), ("topoae",)],
            "metric": ["trust", "trust"],
            "ours_mean": [0.92, 0.93],
            "paper": [0.95, 0.92],
            "within": [True, True],
        }
    ).astype({"within": object})
    _judge_bounded(long, ["trust"])
    # ae's 0.92 is within ±20 % of its 0.95 but equals TopoAE's paper value: fails
    assert list(long["within"]) == [False, True]


def _copy_tree(tmp_path):
    for part in ("conf/report", "results"):
        shutil.copytree(REPO_ROOT / part, tmp_path / part)
    return tmp_path


def _verdict(report, claim_id: str) -> str:
    found = [c for s in report.sections for _, c in s.claims if getattr(c, "id", "") == claim_id]
    assert len(found) == 1, claim_id
    return found[0].verdict


def test_changing_one_run_metric_changes_the_verdict(tmp_path):
    root = _copy_tree(tmp_path)
    before = build_report(root)
    assert _verdict(before, "spheres-topoae-lowest-kl001") == "reproduced"
    runs_file = root / "results/spheres/runs.csv"
    runs = pd.read_csv(runs_file)
    first = runs.index[runs["method"] == "topoae"][0]
    runs.loc[first, "kl_0.01"] = 5.0  # one TopoAE seed far worse than every other method
    runs.to_csv(runs_file, index=False)
    after = build_report(root)
    assert _verdict(after, "spheres-topoae-lowest-kl001") != "reproduced"
    assert after.summary.verdicts["reproduced"] == before.summary.verdicts["reproduced"] - 1


def test_rebuilding_from_the_committed_sources_gives_the_committed_files(tmp_path):
    """Page, verdicts.md and the READMEs' verdict blocks, rebuilt in a copy, equal the committed."""
    root = _copy_tree(tmp_path)
    write_report(root, root / "results")
    written = [p.relative_to(root) for p in (root / "results").rglob("verdicts.md")]
    assert len(written) >= 6
    changed = [
        str(rel)
        for rel in [*written, *(p.parent / "README.md" for p in written)]
        if (root / rel).read_text() != (REPO_ROOT / rel).read_text()
    ]
    assert changed == [], f"stale: {changed}; run `make report`"
    for name in ("index.html", "README.md"):
        fresh = (root / "results" / name).read_text()
        committed = (REPO_ROOT / "results" / name).read_text()
        assert _undated(fresh) == _undated(committed), f"results/{name} is stale"


def _undated(text: str) -> str:
    import re

    return re.sub(r"\d{4}-\d{2}-\d{2}|unknown", "DATE", text)


def test_readme_quotes_the_computed_verdict(tmp_path):
    root = _copy_tree(tmp_path)
    runs_file = root / "results/spheres/runs.csv"
    runs = pd.read_csv(runs_file)
    runs.loc[runs.index[runs["method"] == "topoae"][0], "kl_0.01"] = 5.0
    runs.to_csv(runs_file, index=False)
    write_report(root, root / "results")
    readme = (root / "results/spheres/README.md").read_text()
    assert "- SPHERES: TopoAE has the lowest KL_0.01 of all methods: **reproduced**" not in readme
    assert "- SPHERES: TopoAE has the lowest KL_0.1 of all methods: **reproduced**" in readme


def test_winners_by_hand():
    from topoexp.report.page import winners

    long = pd.DataFrame(
        {
            "row": [("a",), ("b",), ("a",), ("b",)],
            "metric": ["kl", "kl", "trust", "trust"],
            "ours_mean": [0.1, 0.2, 0.9, 0.8],
            "paper": [0.3, 0.2, 0.9, 0.95],
        }
    )
    assert winners(long, ["kl", "trust"], ["trust"]) == [("kl", "a", "b"), ("trust", "a", "b")]


def test_cifar10_cells_are_counted_as_not_run():
    ref = pd.read_csv(REPO_ROOT / "results/reference/topoae_table1.csv")
    cifar = ref[ref["dataset"] == "cifar10"].drop(columns=["dataset", "method"])
    report = build_report(REPO_ROOT)
    topoae = next(s for s in report.sections if s.spec.paper == "topoae")
    assert topoae.summary.cells_not_run == int(cifar.notna().sum().sum()) == 38


def test_a_changed_result_file_changes_a_new_rule_and_its_readme_marker(tmp_path):
    """homreg's table.csv: AE + Reg's MNIST FID at latent 5 above the AE's."""
    root = _copy_tree(tmp_path)
    assert _verdict(build_report(root), "homreg-reg-beats-ae-mnist") == (
        "reproduced at a reduced budget"
    )
    path = root / "results/homreg/table.csv"
    table = pd.read_csv(path)
    hit = (table["dataset"] == "mnist") & (table["method"] == "ae_reg") & (table["latent"] == 5)
    table.loc[hit, "fid_mean"] = 2000.0
    table.to_csv(path, index=False)
    write_report(root, root / "results")
    assert _verdict(build_report(root), "homreg-reg-beats-ae-mnist") == "not reproduced"
    readme = (root / "results/homreg/README.md").read_text()
    marker = "<!-- verdict:homreg-reg-beats-ae-mnist -->**not reproduced**<!-- /verdict -->"
    assert marker in readme
