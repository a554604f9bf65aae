"""How far a CPU's own references may lie from the recording machine's.

References recorded on a CPU of other vector extensions (``machines/<signature>/``, see
``tests/conftest.py``) differ from the originals in the last bits only; this bounds the gap, so
a recording cannot silently stand in for a changed result: every metric within 1e-3 relative
(the largest gap measured is 4.2e-4, the GAN's losses after training), with the same keys.
Death-time digests are hashes and have no distance: their variants may only cover recorded keys.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
VARIANTS = sorted(DATA.glob("**/machines/*/*.json"))
RELATIVE = 1e-3


def _original(variant: Path) -> Path:
    return variant.parent.parent.parent / variant.name


def _leaves(node, prefix=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, f"{prefix}[{i}]")
    else:
        yield prefix, node


def test_there_are_variants_to_check():
    assert VARIANTS, "no per-CPU references found"


DIGESTS = [v for v in VARIANTS if v.name == "death_times_before.json"]
METRICS = [v for v in VARIANTS if v not in DIGESTS]


@pytest.mark.parametrize("variant", DIGESTS, ids=lambda p: p.parent.name)
def test_a_cpus_death_time_digests_cover_recorded_outputs_only(variant):
    with np.load(_original(variant).with_suffix(".npz")) as recorded:
        keys = set(recorded["digest_keys"].tolist())
    mine = json.loads(variant.read_text())
    assert mine and set(mine) <= keys
    assert {k.split("/")[0] for k in mine} <= {"mst", "con", "hom", "tpb", "bdt", "bdt_t"}


@pytest.mark.parametrize("variant", METRICS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_cpus_reference_stays_within_the_stated_tolerance(variant):
    original = dict(_leaves(json.loads(_original(variant).read_text())))
    mine = dict(_leaves(json.loads(variant.read_text())))
    assert mine.keys() == original.keys()
    for key, value in original.items():
        other = mine[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            assert other == value, key
            continue
        if "time" in key.split("/")[-1] and key.endswith("_s"):
            continue
        if math.isnan(value):
            assert math.isnan(other), key
            continue
        assert other == pytest.approx(value, rel=RELATIVE, abs=1e-9), key
