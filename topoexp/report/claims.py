"""The README side of the claims: heading anchors and the computed verdicts the prose quotes.

A results README never states a verdict of its own: where its prose gives one, it holds an inline
marker that ``make report`` fills with the verdict the rule computed::

    ### 1. The regulariser improves samples over the plain AE
    MNIST: <!-- verdict:homreg-reg-beats-ae-mnist -->**reproduced**<!-- /verdict -->

:func:`fill_markers` rewrites every marker; a marker naming no claim of the README's results is an
error, so a renamed rule cannot leave a stale verdict behind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["MARKER", "fill_markers", "marker_ids", "slug"]

MARKER = re.compile(r"<!-- verdict:([\w.\-]+) -->(.*?)<!-- /verdict -->", re.S)


def _plain(text: str) -> str:
    """Markdown reduced for comparison: no emphasis or code marks, single spaces."""
    text = re.sub(r"[*`]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading (lower case, punctuation dropped, spaces → -)."""
    text = _plain(heading).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def marker_ids(readme: str) -> list[str]:
    """The claim ids of every verdict marker of ``readme``, in order."""
    return [m.group(1) for m in MARKER.finditer(readme)]


def fill_markers(readme: str, verdicts: Mapping[str, str], where: str = "README") -> str:
    """``readme`` with every marker set to ``**<verdict>**`` of its claim id."""
    unknown = sorted(set(marker_ids(readme)) - set(verdicts))
    if unknown:
        raise KeyError(f"{where}: verdict markers name no claim of its results: {unknown}")
    return MARKER.sub(
        lambda m: f"<!-- verdict:{m.group(1)} -->**{verdicts[m.group(1)]}**<!-- /verdict -->",
        readme,
    )
