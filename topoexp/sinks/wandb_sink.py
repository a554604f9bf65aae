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


#: Metric keys some tasks name differently, sent to W&B under one name (metrics.json keeps its own).
SUMMARY_ALIASES = {"epoch_s": "time/epoch_s", "eval_s": "time/evaluate_s"}


def run_group(
    group: str | None, experiment: str | None, sweep: str | None, paper: str | None, dataset: str
) -> str:
    """The W&B group: a multirun's sweep directory (one group per multirun or sweep), else
    ``logger.group``, else the experiment's name, else ``<paper>/<dataset>``."""
    name = sweep or group or experiment or f"{paper or 'topoexp'}/{dataset}"
    return name[-128:]  # W&B's limit; the end of a path is its distinctive part


def run_tags(tags: Sequence[str], paper: str | None, dataset: str, method: str) -> list[str]:
    """The configured tags plus ``paper:<p>``, ``dataset:<d>``, ``method:<m>`` (filterable)."""
    derived = [f"paper:{paper}"] if paper else []
    derived += [f"dataset:{dataset}", f"method:{method}"]
    return list(dict.fromkeys([*tags, *derived]))


class WandbSink:
    """Logs the resolved config, per-epoch losses, final metrics and figures to one W&B run.

    ``mode``: auto (online with an API key, else offline), online, offline or disabled. The run
    is grouped by :func:`run_group`, tagged by :func:`run_tags` and typed by its task
    (``job_type``); its summary holds ``final/<metric>`` and the same ``run/*`` keys for every task.
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
        paper: Annotated[str | None, BUILD_ARG] = None,
        dataset: Annotated[str, BUILD_ARG] = "unknown",
        method: Annotated[str, BUILD_ARG] = "unknown",
        seed: Annotated[int | None, BUILD_ARG] = None,
        experiment: Annotated[str | None, BUILD_ARG] = None,
        sweep: Annotated[str | None, BUILD_ARG] = None,
    ) -> None:
        import wandb

        self._wandb = wandb
        self.project, self.entity, self.group = project, entity, group
        self.tags, self.mode, self.job_type = list(tags), mode, job_type
        self.identity = {
            "run/task": job_type,
            "run/paper": paper or "",
            "run/dataset": dataset,
            "run/method": method,
            "run/seed": seed,
            "run/experiment": experiment or "",
        }
        self.run = wandb.init(
            project=project,
            entity=entity,
            group=run_group(group, experiment, sweep, paper, dataset),
            tags=run_tags(tags, paper, dataset, method),
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
        self.run.summary.update(self.identity)

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

    def log_table(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """A table (e.g. per-class AUCs) as ``tables/<name>``, a ``wandb.Table``."""
        table = self._wandb.Table(columns=list(columns), data=[list(r) for r in rows])
        self.run.log({f"tables/{name}": table})

    def log_summary(self, metrics: dict[str, float], figures: dict[str, Any]) -> None:
        self.run.summary.update(
            {f"final/{SUMMARY_ALIASES.get(k, k)}": v for k, v in metrics.items()}
            | {"run/status": "completed"}
        )
        images = {f"figures/{k}": self._wandb.Image(fig) for k, fig in figures.items()}
        if images:
            self.run.log(images)

    def finish(self, failed: bool) -> None:
        if failed:
            self.run.summary["run/status"] = "failed"
        self.run.finish(exit_code=1 if failed else 0)
