"""The training loop of the TopoAE protocol (spec §2.5), as the ``trainer`` component.

Adam with weight decay, shuffled ``drop_last`` batches, and early stopping on the validation total
loss: the best model is checkpointed whenever the validation loss strictly improves, training stops
after ``patience`` epochs without improvement, and the best checkpoint is reloaded at the end. A
``last.pt`` checkpoint after every epoch holds optimiser, early-stopping and RNG state, so an
interrupted run resumes to bit-identical results on the CPU.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Literal

import torch
from annotated_types import Ge, Gt
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from topoexp.config.markers import BUILD_ARG, ArgumentError
from topoexp.training.checkpoint import (
    BEST,
    LAST,
    LoopState,
    load_best,
    load_last,
    save_best,
    save_last,
)

__all__ = ["NonFiniteLossError", "Trainer", "average_loss"]

log = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the message says which checkpoints exist."""


def average_loss(model: torch.nn.Module, dataset: Dataset, batch_size: int) -> dict[str, float]:
    """Per-sample averages of the loss components over ``dataset`` in eval mode.

    As in the original callback: batches of the training batch size, no shuffling,
    ``drop_last=True``, and Σ(batch value × batch size) divided by ``len(dataset)``.
    """
    model.eval()
    device = next(model.parameters()).device
    totals: dict[str, float] = {}
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=True)
    with torch.no_grad():
        for x, _ in loader:
            loss, parts = model.loss(x.to(device))
            for key, value in {"loss": float(loss), **parts}.items():
                totals[key] = totals.get(key, 0.0) + float(value) * len(x)
    return {key: value / len(dataset) for key, value in totals.items()}


def _kept(checkpoint_dir: Path) -> str:
    """What a failed run leaves in ``checkpoint_dir``, said plainly."""
    best, last = (checkpoint_dir / BEST).exists(), (checkpoint_dir / LAST).exists()
    if best and last:
        return f"the best model ({BEST}) and the last completed epoch ({LAST}) are kept in " + str(
            checkpoint_dir
        )
    if last:
        return f"the last completed epoch ({LAST}) is kept in {checkpoint_dir}"
    return "no epoch completed, so no checkpoint was written"


def _check_finite(value: float, where: str, checkpoint_dir: Path) -> None:
    if not math.isfinite(value):
        raise NonFiniteLossError(
            f"non-finite loss ({value}) {where}; training stopped: {_kept(checkpoint_dir)}"
        )


class Trainer:
    """Fits a model that provides ``loss(x) -> (total, parts)`` with early stopping.

    ``fit_on``: ``fit`` trains on train + validation, as the original code did (QUIRK, spec §1.3);
    ``train`` on the training part only, as the paper describes. ``num_threads``: torch (and
    numba) threads; ``auto`` gives each parallel job of a multirun an equal share of the
    machine's cores. ``log_every``: every that many steps the model's loss components of the
    current batch go to ``on_step`` (0: per epoch only). ``drop_last``: the TopoAE and COREL
    protocols drop the last incomplete training batch; ``false`` keeps it. ``resume`` continues from
    ``<run dir>/checkpoints/last.pt``; the stored
    config must match except for the keys in ``resume_allow`` (and ``max_epochs``, ``resume``,
    ``progress``, the logger and the paths), and every difference is recorded.
    """

    def __init__(
        self,
        batch_size: Annotated[int, Ge(1)] = 64,
        lr: Annotated[float, Gt(0)] = 1e-3,
        weight_decay: Annotated[float, Ge(0)] = 1e-5,
        max_epochs: Annotated[int, Ge(1)] = 100,
        patience: Annotated[int, Ge(1)] = 10,
        fit_on: Literal["fit", "train"] = "fit",
        device: str = "cpu",
        num_threads: Annotated[int, Ge(1)] | Literal["auto"] = "auto",
        deterministic: bool = True,
        resume: bool = False,
        resume_allow: Sequence[str] = (),
        progress: bool = True,
        reload_best: bool = True,
        log_every: Annotated[int, Ge(0)] = 0,
        drop_last: bool = True,
        seed: Annotated[int, BUILD_ARG] = 0,
    ) -> None:
        try:
            parsed = torch.device(device)
        except (RuntimeError, TypeError) as error:
            raise ArgumentError("device", f"not a torch device: {device!r}") from error
        if parsed.type == "cuda" and not torch.cuda.is_available():
            raise ArgumentError("device", f"{device!r} requested but CUDA is not available")
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.patience = patience
        self.fit_on = fit_on
        self.device = device
        self.num_threads = num_threads
        self.deterministic = deterministic
        self.resume = resume
        self.resume_allow = list(resume_allow)
        self.progress = progress
        self.reload_best = reload_best
        self.log_every = log_every
        self.drop_last = drop_last
        self.seed = seed

    def check_sizes(self, n_fit: int, n_validation: int) -> None:
        """Fail before training when a split holds no full batch (batches drop the last one)."""
        if not self.drop_last:
            return
        for name, n in (("training", n_fit), ("validation", n_validation)):
            if n < self.batch_size:
                raise ArgumentError(
                    "batch_size",
                    f"{self.batch_size} exceeds the {n} {name} samples; batches drop the last "
                    "incomplete one, so no full batch would remain",
                )

    def fit(
        self,
        model: torch.nn.Module,
        fit_data: Dataset,
        validation: Dataset,
        checkpoint_dir: Path,
        test: Dataset | None = None,
        on_epoch: Callable[[dict[str, float], LoopState], None] | None = None,
        on_step: Callable[[dict[str, float]], None] | None = None,
    ) -> LoopState:
        """Train ``model``; return the final loop state.

        ``on_epoch(record, state)`` runs after every completed epoch (the history is written
        there); ``on_step(record)`` every ``log_every`` steps with the batch's loss components.
        With ``reload_best`` the model holds the best checkpoint's weights afterwards,
        otherwise those of the last epoch.
        """
        self.check_sizes(len(fit_data), len(validation))  # type: ignore[arg-type]
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        device = torch.device(self.device)
        model.to(device)
        optimizer = torch.optim.Adam(
            model.parameters(), lr=self.lr, weight_decay=self.weight_decay, foreach=True
        )
        generator = torch.Generator().manual_seed(self.seed)
        loader = DataLoader(
            fit_data,
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=self.drop_last,
            generator=generator,
        )
        state = LoopState()
        if self.resume:
            if not (checkpoint_dir / LAST).exists():
                raise FileNotFoundError(
                    f"trainer.resume=true but there is no checkpoint at {checkpoint_dir / LAST}; "
                    "point hydra.run.dir at the directory of the run to resume"
                )
            state = load_last(checkpoint_dir, model, optimizer, generator)
            log.info("resumed after epoch %d (best epoch %d)", state.epoch, state.best_epoch)

        for epoch in range(state.epoch, self.max_epochs):
            if state.finished:
                break
            started = time.perf_counter()
            train_loss = self._epoch(
                model, loader, optimizer, device, epoch, checkpoint_dir, on_step
            )
            record: dict[str, float] = {"epoch": epoch, "train/loss": train_loss}
            record |= {
                f"val/{k}": v for k, v in average_loss(model, validation, self.batch_size).items()
            }
            if test is not None:
                record |= {
                    f"test/{k}": v for k, v in average_loss(model, test, self.batch_size).items()
                }
            _check_finite(
                record["val/loss"], f"on the validation split at epoch {epoch}", checkpoint_dir
            )
            if record["val/loss"] < state.best_val:
                state.best_val, state.best_epoch, state.bad_epochs = record["val/loss"], epoch, 0
                save_best(checkpoint_dir, model)
            else:
                state.bad_epochs += 1
            record["time/epoch_s"] = time.perf_counter() - started
            state.epoch = epoch + 1
            state.history.append(record)
            state.finished = state.bad_epochs >= self.patience
            save_last(checkpoint_dir, model, optimizer, state, generator)
            log.info(
                "epoch %d/%d: train %.5g, validation %.5g%s (%.1f s)",
                epoch + 1,
                self.max_epochs,
                record["train/loss"],
                record["val/loss"],
                " *" if state.best_epoch == epoch else "",
                record["time/epoch_s"],
            )
            if on_epoch is not None:
                on_epoch(record, state)
        if state.finished and state.epoch < self.max_epochs:
            log.info("early stop after epoch %d (best epoch %d)", state.epoch, state.best_epoch + 1)
        state.finished = True
        if self.reload_best:
            load_best(checkpoint_dir, model)
        return state

    def _epoch(
        self, model, loader, optimizer, device, epoch: int, checkpoint_dir: Path, on_step=None
    ) -> float:
        model.train()
        running = 0.0
        # A bar beside the loader, not around it: wrapping the loader changed the batch order.
        with tqdm(
            total=len(loader),
            desc=f"epoch {epoch + 1}/{self.max_epochs}",
            disable=not self.progress,
            leave=False,
            mininterval=1.0,
        ) as bar:
            for step, (x, _) in enumerate(loader):
                loss, parts = model.loss(x.to(device, non_blocking=True))
                value = loss.item()
                _check_finite(value, f"at epoch {epoch}, step {step}", checkpoint_dir)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                running += value
                bar.update(1)
                if on_step is not None and self.log_every and step % self.log_every == 0:
                    on_step(
                        {
                            "epoch": epoch,
                            "step": step,
                            "global_step": epoch * len(loader) + step,
                            "train/loss": value,
                            **{f"train/{k}": float(v) for k, v in parts.items()},
                        }
                    )
        return running / len(loader)
