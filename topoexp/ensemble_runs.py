"""Runs of an ensemble: ``trainer.ensemble=[s1,s2,...]`` trains one member per seed together.

Every member is the single run with its seed (``seed=s``, ``trainer.ensemble=[]``) and writes
that run's directory, ``<run dir>/seed_<s>``: config, metrics, status, provenance, history,
checkpoints, figures. The members run in threads of one process, one at a time, and meet at
``Trainer.fit`` to be trained together (:class:`topoexp.training.ensemble.Rendezvous`). The
ensemble's own directory holds its config, ``status.json`` (completed when every member is)
and ``ensemble.json`` (each member's seed, directory, state and metrics); the metrics it
returns (for sweeps) are the members' means.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from topoexp import io
from topoexp.records import RunRecord
from topoexp.training.ensemble import Rendezvous

__all__ = ["member_config", "run_ensemble"]

log = logging.getLogger("topoexp")


def member_config(cfg: DictConfig, seed: int) -> DictConfig:
    """The single run of member ``seed``: the ensemble's config with that seed and no ensemble,
    in ``<run dir>/seed_<seed>``."""
    member = copy.deepcopy(cfg)
    output_dir = Path(cfg.paths.output_dir) / f"seed_{seed}"
    OmegaConf.update(member, "seed", int(seed), merge=False)
    OmegaConf.update(member, "trainer.ensemble", [], merge=False)
    OmegaConf.update(member, "paths.output_dir", str(output_dir), merge=False)
    return member


def run_ensemble(
    cfg: DictConfig, seeds: Sequence[int], run: Callable[[DictConfig], dict[str, float]]
) -> dict[str, float]:
    """Run the members of ``cfg`` (see the module docstring); ``run`` is the single run."""
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    io.write_text(output_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    record = RunRecord(output_dir)
    record.start(Path(cfg.paths.root_dir), task="ensemble", method=cfg.method, seeds=list(seeds))
    members = [member_config(cfg, s) for s in seeds]
    rendezvous = Rendezvous(len(members))
    outcomes: dict[int, dict[str, Any]] = {}

    def member_run(seed: int, member: DictConfig) -> None:
        rendezvous.enter()
        try:
            outcomes[seed] = {"state": "completed", "metrics": run(member)}
        except BaseException as error:
            outcomes[seed] = {"state": "failed", "error": f"{type(error).__name__}: {error}"}
        finally:
            rendezvous.leave()

    threads = [
        threading.Thread(target=member_run, args=(s, m), name=f"member-{s}")
        for s, m in zip(seeds, members, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    summary = {
        "seeds": list(seeds),
        "members": {
            str(s): {"dir": f"seed_{s}", **outcomes.get(s, {"state": "failed"})} for s in seeds
        },
    }
    io.write_json(output_dir / "ensemble.json", summary)
    failed = [s for s in seeds if outcomes.get(s, {}).get("state") != "completed"]
    if failed:
        reasons = sorted({outcomes.get(s, {}).get("error", "no outcome") for s in failed})
        error = RuntimeError(
            f"{len(failed)} of {len(seeds)} ensemble members failed (seeds {failed}): "
            f"{'; '.join(reasons)}; see their status.json under {output_dir}"
        )
        record.fail(error)
        raise error
    record.complete()
    completed = [outcomes[s]["metrics"] for s in seeds]
    keys = set.intersection(*(set(m) for m in completed))
    means = {k: sum(m[k] for m in completed) / len(completed) for k in sorted(keys)}
    log.info("ensemble of %d members done: %s", len(seeds), output_dir)
    return means
