"""Multiruns that say what happened.

:class:`MultirunSummary` (a Hydra callback, ``conf/hydra/default.yaml``) prints after every
multirun how many of its jobs failed, from their ``status.json``, and makes the command exit
non-zero when every job failed. The Optuna sweeper that keeps its study on disk is
``hydra_plugins.topoexp_sweepers`` (Hydra loads sweepers only from that namespace).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from topoexp.records import run_state

__all__ = ["MultirunSummary", "job_states"]

log = logging.getLogger("topoexp")


def job_states(sweep_dir: Path) -> dict[str, str]:
    """``{job directory: state}`` for every job Hydra started below ``sweep_dir``.

    A job directory is one holding Hydra's ``.hydra/``; a job with no ``status.json`` failed
    before its run started (its error is in its log).
    """
    states = {}
    for hydra_dir in sorted(sweep_dir.rglob(".hydra")):
        job = hydra_dir.parent
        if job == sweep_dir:
            continue
        state = run_state(job)
        states[str(job)] = "failed" if state == "missing" else state
    return states


class MultirunSummary(Callback):
    """Report failed jobs after a multirun; fail the command when all of them failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        states = job_states(sweep_dir)
        failed = [job for job, state in states.items() if state != "completed"]
        message = f"multirun: {len(failed)} of {len(states)} jobs failed ({sweep_dir})"
        print(message, flush=True)
        for job in failed:
            print(f"  {states[job]}: {job}", flush=True)
        if states and len(failed) == len(states):
            # Hydra turns a callback's exception into a warning: exit explicitly.
            print(
                f"error: every job of the multirun failed ({len(states)} of {len(states)}); "
                f"see their status.json and logs under {sweep_dir}",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(1)
