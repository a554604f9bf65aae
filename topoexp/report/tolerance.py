"""When our mean counts as the paper's value: one tolerance per cell, and where it came from.

A :class:`Tolerance` has a default (``relative``: ``value · |paper|``; ``absolute``: ``value``;
``paper_std``: ``value · paper_std``) and, tried first in the order given, the noise of the cell
itself (``sources``):

- ``paper_std`` — the paper gives a std of its value: ``k · sqrt(σ_paper² + σ_ours²)`` (two standard
  deviations of the difference of two values, ours with the std of its own table; 0 without);
- ``seeds`` — our mean is over ``n ≥ 2`` seeds with a spread (std > 0): ``k · s · sqrt(1/n +
  1/m)``, two standard errors of the difference of our mean and the paper's over ``m =
  paper_seeds`` seeds, the paper's seeds taken as spread as ours (``s`` the sample std).

Both add half a unit in the last digit the paper prints (its value is known to no more: 0.389
is 0.3885–0.3895). A cell neither source applies to (one seed, no spread, no paper std) gets the
default. Every compared cell records its width and its source (:data:`SOURCES`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["SOURCES", "Tolerance", "half_digit"]

SOURCES: dict[str, str] = {
    "paper_std": "paper std",
    "seeds": "our seeds",
    "default": "default",
}


def _finite(x: float | None) -> bool:
    return x is not None and bool(np.isfinite(x))


def half_digit(value: float) -> float:
    """Half a unit in the last decimal of ``value`` as printed (``repr``): 0.389 → 0.0005."""
    text = repr(float(value))
    if "e" in text or "E" in text:
        mantissa, exponent = text.lower().split("e")
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return 0.5 * 10.0 ** (int(exponent) - decimals)
    decimals = len(text.split(".")[1].rstrip("0")) if "." in text else 0
    return 0.5 * 10.0 ** (-decimals)


@dataclass(frozen=True)
class Tolerance:
    """The tolerance of a table's cells (see the module docstring)."""

    kind: Literal["relative", "absolute", "paper_std"] = "relative"
    value: float = 0.2
    sources: tuple[str, ...] = ()
    k: float = 2.0
    paper_seeds: int = 5

    def __post_init__(self) -> None:
        if self.kind not in ("relative", "absolute", "paper_std"):
            raise ValueError(
                f"tolerance kind must be relative, absolute or paper_std: {self.kind!r}"
            )
        if not (np.isfinite(self.value) and self.value > 0):
            raise ValueError(f"tolerance value must be a positive number: {self.value!r}")
        unknown = set(self.sources) - {"paper_std", "seeds"}
        if unknown:
            raise ValueError(f"tolerance sources must be paper_std or seeds: {sorted(unknown)}")

    def _default(self, paper: float, paper_std: float) -> float | None:
        if self.kind == "relative":
            return None if paper == 0 else self.value * abs(paper)
        if self.kind == "absolute":
            return self.value
        return self.value * paper_std if _finite(paper_std) else None

    def width(
        self,
        paper: float,
        paper_std: float = np.nan,
        ours_std: float = np.nan,
        n: int | None = None,
        ddof: int = 0,
    ) -> tuple[float | None, str]:
        """The cell's half-width and its source (``None``: the cell cannot be compared)."""
        for source in self.sources:
            if source == "paper_std" and _finite(paper_std):
                own = ours_std if _finite(ours_std) else 0.0
                return self.k * math.hypot(paper_std, own) + half_digit(paper), source
            spread = n is not None and n >= 2 and _finite(ours_std) and ours_std > 0
            if source == "seeds" and spread:
                sample = ours_std * math.sqrt(n / (n - 1)) if ddof == 0 else ours_std  # type: ignore[operator]
                noise = self.k * sample * math.sqrt(1 / n + 1 / self.paper_seeds)  # type: ignore[operator]
                return noise + half_digit(paper), source
        return self._default(paper, paper_std), "default"

    def within(
        self,
        ours: float,
        paper: float,
        paper_std: float = np.nan,
        ours_std: float = np.nan,
        n: int | None = None,
        ddof: int = 0,
    ) -> bool | None:
        """True / False, or None when the cell cannot be compared (a value is missing)."""
        if not (np.isfinite(ours) and np.isfinite(paper)):
            return None
        width, _ = self.width(paper, paper_std, ours_std, n, ddof)
        return None if width is None else bool(abs(ours - paper) <= width)

    def describe(self) -> str:
        if self.kind == "relative":
            default = f"±{self.value * 100:g} % of the paper's value"
        elif self.kind == "absolute":
            default = f"±{self.value:g} of the paper's value"
        else:
            default = f"{self.value:g} × the paper's standard deviation of its value"
        if not self.sources:
            return f"within {default}"
        tried = {
            "paper_std": f"{self.k:g} × the combined std of the paper's value and ours where the "
            "paper gives a std (paper std)",
            "seeds": f"{self.k:g} standard errors of the difference of the means where ours is "
            f"over two or more seeds with a spread, the paper's {self.paper_seeds} seeds taken "
            "as spread as ours (our seeds)",
        }
        return (
            "within "
            + ", else ".join(tried[s] for s in self.sources)
            + " (each plus half a unit in the paper's last printed digit)"
            + f", else {default} (default)"
        )
