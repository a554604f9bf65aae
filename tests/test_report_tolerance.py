"""Per-cell tolerances: the paper's std, else our seeds' spread, else the table's default; every
compared cell of the committed report records its source."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from topoexp.report.page import build_report
from topoexp.report.tolerance import Tolerance, half_digit

PER_CELL = Tolerance("relative", 0.2, ("paper_std", "seeds"), 2.0, 5)


def test_half_a_unit_in_the_printed_last_digit():
    assert half_digit(0.389) == pytest.approx(0.0005)
    assert half_digit(10.4) == pytest.approx(0.05)
    assert half_digit(0.00881) == pytest.approx(5e-6)
    assert half_digit(28.0) == pytest.approx(0.5)
    assert half_digit(1e-05) == pytest.approx(5e-6)


def test_the_papers_std_comes_first():
    width, source = PER_CELL.width(28.0, paper_std=0.1, ours_std=0.05, n=1)
    assert source == "paper_std"
    assert width == pytest.approx(2 * math.hypot(0.1, 0.05) + 0.5)


def test_our_seeds_next_then_the_default():
    # population std 0.01 over 5 seeds: sample std 0.01 · √(5/4); the paper's 5 seeds as spread
    width, source = PER_CELL.width(0.326, ours_std=0.01, n=5)
    assert source == "seeds"
    assert width == pytest.approx(2 * 0.01 * math.sqrt(5 / 4) * math.sqrt(2 / 5) + 0.0005)
    sample, _ = PER_CELL.width(0.326, ours_std=0.01, n=5, ddof=1)
    assert sample == pytest.approx(2 * 0.01 * math.sqrt(2 / 5) + 0.0005)
    # one seed, or seeds without spread (a deterministic method): the default ±20 %
    assert PER_CELL.width(0.326, ours_std=0.01, n=1) == (pytest.approx(0.0652), "default")
    assert PER_CELL.width(0.326, ours_std=0.0, n=5) == (pytest.approx(0.0652), "default")
    assert PER_CELL.within(0.33, 0.326, ours_std=0.01, n=5) is True
    assert PER_CELL.within(0.36, 0.326, ours_std=0.01, n=5) is False  # within ±20 %, not noise
    assert Tolerance("relative", 0.2).within(0.36, 0.326, ours_std=0.01, n=5) is True
    with pytest.raises(ValueError, match="sources"):
        Tolerance("relative", 0.2, ("guess",))


def test_every_compared_cell_records_its_source():
    report = build_report(REPO_ROOT)
    seen = set()
    for section in report.sections:
        for table in section.tables:
            compared = table.long[table.long["within"].notna()]
            assert compared["tolerance_source"].isin(["paper_std", "seeds", "default"]).all()
            assert np.isfinite(compared["tolerance"].astype(float)).all()
            seen.update(compared["tolerance_source"])
            one_seed = compared[compared["n"].fillna(1) < 2]
            assert (one_seed["tolerance_source"] != "seeds").all()
            if table.spec.id.startswith("generator_figure10"):
                assert (compared["tolerance_source"] == "paper_std").all()
    assert seen == {"paper_std", "seeds", "default"}
    page = (REPO_ROOT / "results" / "index.html").read_text()
    assert "(our seeds)</span>" in page and "(paper std)</span>" in page
    assert "(default)</span>" in page
