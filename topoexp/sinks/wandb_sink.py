"""Weights & Biases sink: one W&B run per topoexp run, always finished, offline without a key."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from topoexp.sinks.base import NullSink, Sink


def has_api_key() -> bool:
    """Whether W&B credentials are configured (``WANDB_API_KEY`` or a netrc entry)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_mode(mode: str) -> str:
    """``auto`` → ``online`` with credentials, else ``offline``; other modes pass through."""
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if mode == "auto":
        return "online" if has_api_key() else "offline"
    return mode


class WandbSink:
    """Logs the resolved config, per-epoch losses, final metrics and figures to one W&B run."""

    def __init__(self, cfg: DictConfig, output_dir: Path) -> None:
        import wandb

        self._wandb = wandb
        logger = cfg.logger
        name = f"{cfg.method}_{cfg.dataset.name}_{cfg.seed}"
        self.run = wandb.init(
            project=logger.project,
            entity=logger.entity,
            group=logger.group,
            tags=list(logger.tags),
            name=name,
            job_type="train",
            config=OmegaConf.to_container(cfg, resolve=True),
            dir=str(output_dir),
            mode=resolve_mode(logger.mode),
            reinit="create_new",
        )
        self.run.define_metric("epoch")
        self.run.define_metric("train/*", step_metric="epoch")
        self.run.define_metric("val/*", step_metric="epoch")
        self.run.define_metric("test/*", step_metric="epoch")

    def log_epoch(self, record: dict[str, float]) -> None:
        self.run.log(dict(record))

    def log_summary(self, metrics: dict[str, float], figures: dict[str, Any]) -> None:
        self.run.summary.update({f"final/{k}": v for k, v in metrics.items()})
        images = {f"figures/{k}": self._wandb.Image(fig) for k, fig in figures.items()}
        if images:
            self.run.log(images)

    def finish(self, failed: bool) -> None:
        self.run.finish(exit_code=1 if failed else 0)


def make_sink(cfg: DictConfig, output_dir: Path) -> Sink:
    """The sink ``cfg.logger`` asks for."""
    if cfg.logger.name == "none" or resolve_mode(cfg.logger.mode) == "disabled":
        return NullSink()
    return WandbSink(cfg, output_dir)
