"""Weights & Biases sink: one W&B run per topoexp run, always finished, offline without a key."""

from __future__ import annotations

import netrc
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from topoexp.config.markers import BUILD_ARG


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
    """Logs the resolved config, per-epoch losses, final metrics and figures to one W&B run.

    ``mode``: auto (online with an API key, else offline), online, offline or disabled.
    """

    def __init__(
        self,
        project: str = "topoexp",
        entity: str | None = None,
        group: str | None = None,
        tags: Sequence[str] = (),
        mode: Literal["auto", "online", "offline", "disabled"] = "auto",
        job_type: Annotated[str, BUILD_ARG] = "train",
        run_name: Annotated[str | None, BUILD_ARG] = None,
        run_config: Annotated[dict | None, BUILD_ARG] = None,
        output_dir: Annotated[Path | None, BUILD_ARG] = None,
    ) -> None:
        import wandb

        self._wandb = wandb
        self.project, self.entity, self.group = project, entity, group
        self.tags, self.mode, self.job_type = list(tags), mode, job_type
        self.run = wandb.init(
            project=project,
            entity=entity,
            group=group,
            tags=list(tags),
            name=run_name,
            job_type=job_type,
            config=run_config,
            dir=str(output_dir) if output_dir is not None else None,
            mode=resolve_mode(mode),
            reinit="create_new",
        )
        self.run.define_metric("epoch")
        self.run.define_metric("train/*", step_metric="epoch")
        self.run.define_metric("val/*", step_metric="epoch")
        self.run.define_metric("test/*", step_metric="epoch")
        self.run.define_metric("global_step")
        self.run.define_metric("step/*", step_metric="global_step")
        self.run.define_metric("media/*", step_metric="epoch")

    def log_epoch(self, record: dict[str, float]) -> None:
        self.run.log(dict(record))

    @property
    def takes_images(self) -> bool:
        return True

    def log_images(self, epoch: int, images: dict[str, Any]) -> None:
        """Images (arrays or matplotlib figures) as ``media/<name>`` against ``epoch``."""
        self.run.log(
            {
                "epoch": epoch,
                **{
                    f"media/{k}": self._wandb.Image(v, caption=f"epoch {epoch}")
                    for k, v in images.items()
                },
            }
        )

    def log_step(self, record: dict[str, float]) -> None:
        """Per-batch values, as ``step/<name>`` against ``global_step``."""
        self.run.log(
            {
                "global_step": record["global_step"],
                **{
                    f"step/{k.removeprefix('train/')}": v
                    for k, v in record.items()
                    if k not in ("global_step", "epoch", "step")
                },
            }
        )

    def log_summary(self, metrics: dict[str, float], figures: dict[str, Any]) -> None:
        self.run.summary.update({f"final/{k}": v for k, v in metrics.items()})
        images = {f"figures/{k}": self._wandb.Image(fig) for k, fig in figures.items()}
        if images:
            self.run.log(images)

    def finish(self, failed: bool) -> None:
        self.run.finish(exit_code=1 if failed else 0)
