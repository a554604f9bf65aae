"""Claims as rules: verdicts decided by hand-computed cases, bounded metrics, and a changed run
metric that changes the committed page's verdict."""

from __future__ import annotations

import json
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


def test_a_changed_record_changes_a_new_rule_and_its_readme_marker(tmp_path):
    """homreg's record of AE + Reg, MNIST, latent 5 (10 epochs): its FID above the AE's."""
    root = _copy_tree(tmp_path)
    assert _verdict(build_report(root), "homreg-reg-beats-ae-mnist") == (
        "reproduced at a reduced budget"
    )
    path = root / "results/homreg/runs/ten_epochs_mnist_ae_reg_5/metrics.json"
    metrics = json.loads(path.read_text())
    path.write_text(json.dumps(metrics | {"fid_mean": 2000.0}))
    write_report(root)
    assert _verdict(build_report(root), "homreg-reg-beats-ae-mnist") == "not reproduced"
    readme = (root / "results/homreg/README.md").read_text()
    marker = "<!-- verdict:homreg-reg-beats-ae-mnist -->**not reproduced**<!-- /verdict -->"
    assert marker in readme
