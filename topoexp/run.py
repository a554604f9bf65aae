"""The harness: validate → run directory and records → task → metrics, figures and sinks.

What every task needs lives here: config validation (before anything is written), seeding and
threads, the run directory (``paths.output_dir``, Hydra's), its records (``config.yaml``,
``status.json`` with a heartbeat, ``provenance.json``), the sinks (W&B), and the sweep objective.
The task (``cfg.task``, :mod:`topoexp.tasks`) builds its components and does the work. Every
failure after validation ends in ``status.json`` = ``failed`` with the error.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from topoexp import io
from topoexp.config.build import build
from topoexp.config.validate import validate
from topoexp.records import RunRecord
from topoexp.resume import check_resume

__all__ = ["configure_threads", "preflight", "run", "run_for_sweep", "seed_everything"]

log = logging.getLogger("topoexp")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _parallel_jobs() -> int:
    """How many jobs of this multirun run side by side on this machine (1 outside one)."""
    if not (HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN):
        return 1
    launcher = HydraConfig.get().launcher
    return int(launcher.get("n_jobs") or 1) if "n_jobs" in launcher else 1


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def configure_threads(num_threads: int | str) -> int:
    """Set torch's and numba's thread counts; ``auto``: this job's share of the cores."""
    if num_threads == "auto":
        num_threads = max(1, available_cores() // _parallel_jobs())
    n = int(num_threads)
    torch.set_num_threads(n)
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass
    return n


def _write_figures(output_dir: Path, figures: dict[str, Any]) -> None:
    for name, fig in figures.items():
        io.save_figure(output_dir / f"{name}.png", fig, dpi=150, bbox_inches="tight")


def preflight(cfg: DictConfig) -> Any:
    """Every check that needs no data: keys, types, values, then the task's own checks.

    Returns the task. Raises :class:`~topoexp.config.validate.ConfigError` naming the key.
    """
    from omegaconf.errors import InterpolationResolutionError

    from topoexp.config.validate import ConfigError

    try:
        validate(cfg)
        task = build(cfg, "task")
        task.check(cfg)
    except InterpolationResolutionError as error:  # e.g. ${trainer.batch_size} without a trainer
        raise ConfigError(str(error.full_key), str(error).splitlines()[0]) from None
    return task


def _sink_identity(cfg: DictConfig) -> dict[str, Any]:
    """What a sink groups and tags a run by: paper, data set, method, seed, the experiment file
    (``+experiment=...``) and, in a multirun or sweep, its sweep directory."""
    experiment = sweep = None
    if HydraConfig.initialized():
        experiment = HydraConfig.get().runtime.choices.get("experiment")
        if _in_multirun():
            sweep = str(HydraConfig.get().sweep.dir)
    return {
        "paper": cfg.get("paper"),
        "dataset": str(cfg.dataset.name),
        "method": str(cfg.method),
        "seed": int(cfg.seed),
        "experiment": experiment,
        "sweep": sweep,
    }


def run(cfg: DictConfig) -> dict[str, float]:
    """Run the job ``cfg`` describes and return its flat metrics (for an ensemble,
    ``trainer.ensemble``, the members' means: :mod:`topoexp.ensemble_runs`)."""
    task = preflight(cfg)
    seeds = list((cfg.get("trainer") or {}).get("ensemble") or [])
    if seeds:
        from topoexp.ensemble_runs import run_ensemble

        return run_ensemble(cfg, seeds, run)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    check_resume(cfg, output_dir)
    io.write_text(output_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))

    trainer = cfg.get("trainer") or {}
    device = str(trainer.get("device", "cpu"))
    threads = configure_threads(trainer.get("num_threads", "auto"))
    torch.use_deterministic_algorithms(bool(trainer.get("deterministic", True)), warn_only=True)
    seed_everything(cfg.seed)
    record = RunRecord(output_dir)
    record.start(
        Path(cfg.paths.root_dir),
        task=task.job_type,
        method=cfg.method,
        seed=cfg.seed,
        threads=threads,
        device=device,
    )
    from topoexp.training.ensemble import current_rendezvous

    if current_rendezvous() is not None:
        record.add_facts(trained_in_ensemble=True)
    log.info("%s: %s, seed %d, %d threads, device %s", task.job_type, cfg.method, cfg.seed,
             threads, device)  # fmt: skip
    sink = None
    failed = True
    try:
        sink = build(
            cfg,
            "logger",
            run_config=OmegaConf.to_container(cfg, resolve=True),
            run_name=f"{cfg.method}_{cfg.dataset.name}_{cfg.seed}",
            output_dir=output_dir,
            job_type=task.job_type,
            **_sink_identity(cfg),
        )
        from topoexp.tasks.base import RunContext

        ctx = RunContext(cfg, output_dir, sink, record, cfg.seed, device)
        result = task(ctx)
        metrics = {key: float(value) for key, value in result.metrics.items()}
        io.write_json(output_dir / "metrics.json", metrics)
        _write_figures(output_dir, result.figures)
        sink.log_summary(metrics, result.figures)
        record.complete()
        failed = False
        log.info("metrics: %s", json.dumps(metrics, indent=1))
        return metrics
    except BaseException as error:
        record.fail(error)
        log.error("run failed: %s: %s", type(error).__name__, error)
        raise
    finally:
        if sink is not None:
            sink.finish(failed=failed)
        log.info("run directory: %s", output_dir)


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def run_for_sweep(cfg: DictConfig) -> float:
    """Hydra task function: run and return ``cfg.objective`` for sweepers.

    In a multirun a failed or non-finite trial scores ``cfg.failure_score`` (the original search's
    penalty) so the sweep goes on; its ``status.json`` says ``failed``, the multirun's summary
    counts it, and :mod:`topoexp.report.sweeps` never takes a best from it. A single run re-raises
    the error.
    """
    try:
        value = run(cfg)[cfg.objective]
    except Exception:
        if not _in_multirun():
            raise
        log.exception("trial failed; scoring failure_score=%s", cfg.failure_score)
        return float(cfg.failure_score)
    return float(value) if math.isfinite(value) else float(cfg.failure_score)
