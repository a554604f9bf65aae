"""Hydra's Optuna sweeper with its study on disk, so an interrupted sweep continues.

Used by every ``conf/sweep/`` file (``hydra.sweeper._target_``) with
``storage: sqlite:///${hydra.sweep.dir}/optuna.db``: rerunning the same command with the same
``hydra.sweep.dir`` loads the study, runs only the trials still missing (``n_trials`` less the
finished ones) and numbers the new jobs after the existing ones. A seeded sampler would repeat the
draws of the first trials, so it is moved on to a state fixed by the number of trials so far (a
continued sweep is reproducible, but not identical to an uninterrupted one).

It lives in the ``hydra_plugins`` namespace because Hydra loads sweepers only from there, and
imports Optuna only when a sweep starts (Hydra imports every plugin at start-up).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper

__all__ = ["ResumableOptunaSweeper"]

log = logging.getLogger("topoexp")


class ResumableOptunaSweeper(OptunaSweeper):
    """Hydra's Optuna sweeper that continues a study kept in SQLite (see the module docstring)."""

    def sweep(self, arguments: list[str]) -> None:
        impl = self.sweeper
        storage = impl.storage
        if isinstance(storage, str) and storage.startswith("sqlite:///"):
            Path(storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            _skip_done_trials(impl, storage)
        return super().sweep(arguments)


def _skip_done_trials(impl: Any, storage: str) -> None:
    import numpy as np
    import optuna

    try:
        study = optuna.load_study(study_name=impl.study_name, storage=storage)
    except KeyError:  # no study of that name yet: a new sweep
        return
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state.is_finished()]
    impl.n_trials = max(0, impl.n_trials - len(done))
    impl.job_idx = len(trials)
    for sampler in (impl.sampler, getattr(impl.sampler, "_random_sampler", None)):
        rng = getattr(sampler, "_rng", None)
        if isinstance(rng, np.random.RandomState):
            rng.seed(rng.randint(2**31 - 1) + len(trials))
    log.info(
        "continuing study %r: %d of its trials finished, %d to go",
        impl.study_name,
        len(done),
        impl.n_trials,
    )
