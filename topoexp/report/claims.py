"""Transcribed claims: ``claims.yaml`` beside a results README, for the claims no rule expresses.

Claims are decided by the rules of the report specs (:mod:`topoexp.report.verdicts`); a claim no
rule kind expresses yet (a monotone trend, a ratio rule, a qualitative picture) stays here, its
verdict transcribed from the README. A results directory whose spec sets ``legacy_claims: false``
has its ``claims.yaml`` replaced by the rules::

    claims:
      - id: branching
        claim: Branching beats no branching
        verdict: reproduced        # reproduced | partly reproduced | not reproduced | not run
        readme_verdict: ""         # the README's own words, when they say more than the category
        numbers: "16 × 10: 0.858, 1 × 160: 0.722 at m = 120"   # or why it was not run
        section: The paper's claims, decided     # the README heading it is decided under
        quote: "Branching beats no branching — reproduced"   # verbatim in the README

:func:`check_against_readme` lists every claim whose section or quote the README no longer holds,
so a README and its claims cannot drift apart silently (tested for every results directory).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["VERDICTS", "Claim", "check_against_readme", "load_claims", "slug"]

Verdict = Literal["reproduced", "partly reproduced", "not reproduced", "not run"]
VERDICTS: tuple[str, ...] = ("reproduced", "partly reproduced", "not reproduced", "not run")


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    claim: str
    verdict: Verdict
    readme_verdict: str = ""
    numbers: str = ""
    section: str
    quote: str


def load_claims(path: Path) -> list[Claim]:
    """The claims of one ``claims.yaml``; a bad entry fails naming the file, entry and key."""
    data = yaml.safe_load(path.read_text()) or {}
    entries = data.get("claims")
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a top-level 'claims' list")
    claims = []
    for i, entry in enumerate(entries):
        try:
            claims.append(Claim(**entry))
        except (TypeError, ValidationError) as error:
            raise ValueError(f"{path}: claims[{i}]: {error}") from None
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: claim ids must be unique, got {ids}")
    return claims


def _plain(text: str) -> str:
    """Markdown reduced for comparison: no emphasis or code marks, single spaces."""
    text = re.sub(r"[*`]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _headings(readme: str) -> list[str]:
    return [_plain(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", readme, re.M)]


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading (lower case, punctuation dropped, spaces → -)."""
    text = _plain(heading).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def check_against_readme(claims: list[Claim], readme: str) -> list[str]:
    """Problems: claims whose section heading or verbatim quote the README does not hold."""
    plain = _plain(readme)
    headings = _headings(readme)
    problems = []
    for c in claims:
        if _plain(c.section) not in headings:
            problems.append(f"{c.id}: no README heading {c.section!r}")
        if _plain(c.quote) not in plain:
            problems.append(f"{c.id}: README does not say {c.quote!r}")
    return problems
