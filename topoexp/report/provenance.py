"""What made a table's numbers: its run records' kinds, commits, dirty trees and last run.

:meth:`RecordsProvenance.of` reads the :data:`~topoexp.report.records.META` columns of the records
behind a table (one row per record; a table of arrays has several rows per record, counted once)
and :meth:`describe` says it in one line, e.g. ``35 run records (35 full, 0 converted); commit
aeebf6d; 0 of 35 from a dirty tree``. A results directory's provenance is that of the records of its
tables, together (:meth:`combine`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from topoexp.report.records import CONVERTED, FULL, META

__all__ = ["RecordsProvenance"]

#: The columns kept of a table's records (the key that tells two records apart first).
KEPT = ("source", *META, "seed")


@dataclass(frozen=True)
class RecordsProvenance:
    records: pd.DataFrame  # one row per record: KEPT

    @classmethod
    def of(cls, frame: pd.DataFrame, source: str) -> RecordsProvenance:
        """The records of ``frame`` (loaded from ``source``), each once."""
        kept = frame.assign(source=source)
        kept = kept[[c for c in KEPT if c in kept]].drop_duplicates(["source", "run"])
        return cls(kept.reset_index(drop=True))

    @classmethod
    def combine(cls, parts: Sequence[RecordsProvenance]) -> RecordsProvenance | None:
        if not parts:
            return None
        frame = pd.concat([p.records for p in parts], ignore_index=True)
        return cls(frame.drop_duplicates(["source", "run"]).reset_index(drop=True))

    @property
    def n(self) -> int:
        return len(self.records)

    @property
    def full(self) -> int:
        return int((self.records["record"] == FULL).sum())

    @property
    def converted(self) -> int:
        return int((self.records["record"] == CONVERTED).sum())

    @property
    def commits(self) -> list[str]:
        return sorted({str(c)[:7] for c in self.records["git_commit"].dropna() if c})

    @property
    def unknown(self) -> int:
        """Records that name no commit."""
        return int(self.records["git_commit"].isna().sum())

    @property
    def dirty(self) -> int:
        return int((self.records["git_dirty"] == True).sum())  # noqa: E712 (object column)

    @property
    def tree_known(self) -> int:
        """Records that say whether the tree was dirty."""
        return int(self.records["git_dirty"].notna().sum())

    @property
    def seeds(self) -> list:
        if "seed" not in self.records:
            return []
        return sorted({int(s) for s in self.records["seed"].dropna()})

    @property
    def last_run(self) -> str:
        """The date the last record's run ended (records without a time: ``unknown``)."""
        ended = self.records["ended"].dropna()
        return max(str(e)[:10] for e in ended) if len(ended) else "unknown"

    def kinds(self) -> str:
        """``35 run records (35 full, 0 converted)``."""
        plural = "s" if self.n != 1 else ""
        return f"{self.n} run record{plural} ({self.full} full, {self.converted} converted)"

    def code(self) -> str:
        """The commits that ran the code and how many runs came from a dirty tree."""
        commits = ", ".join(self.commits)
        word = "commit" if len(self.commits) == 1 else "commits"
        text = f"{word} {commits}" if commits else "no commit recorded"
        if self.unknown and self.commits:
            text += f" ({self.unknown} record{'s' if self.unknown != 1 else ''} without one)"
        if not self.tree_known:
            return f"{text}; tree state not recorded"
        return f"{text}; {self.dirty} of {self.tree_known} from a dirty tree"

    def describe(self) -> str:
        return f"{self.kinds()}; {self.code()}"
