"""The training loop of the TopoAE protocol (spec §2.5).

Adam with weight decay, shuffled ``drop_last`` batches, and early stopping on the validation total
loss: the best model is checkpointed whenever the validation loss strictly improves, training stops
after ``patience`` epochs without improvement, and the best checkpoint is reloaded at the end. A
``last.pt`` checkpoint after every epoch holds optimiser, early-stopping and RNG state, so an
interrupted run resumes to bit-identical results on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from topoexp.training.checkpoint import LAST, LoopState, load_best, load_last, save_best, save_last


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept on disk."""


@dataclass(frozen=True)
class LoopConfig:
    batch_size: int
    lr: float
    weight_decay: float = 1e-5
    max_epochs: int = 100
    patience: int = 10
    seed: int = 0
    resume: bool = False
    progress: bool = True
    reload_best: bool = True
    device: str = "cpu"


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


def _check_finite(value: float, where: str, checkpoint_dir: Path) -> None:
    if not math.isfinite(value):
        raise NonFiniteLossError(
            f"non-finite loss ({value}) {where}; training stopped. The last good checkpoint is "
            f"kept in {checkpoint_dir}"
        )


def train(
    model: torch.nn.Module,
    fit_data: Dataset,
    validation: Dataset,
    config: LoopConfig,
    checkpoint_dir: Path,
    test: Dataset | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> LoopState:
    """Train ``model`` (which provides ``loss(x) -> (total, parts)``) with early stopping.

    Returns the final loop state. With ``reload_best`` the model holds the best checkpoint's
    weights afterwards, otherwise those of the last epoch.
    """
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(config.device)
    model.to(device)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, foreach=True
    )
    generator = torch.Generator().manual_seed(config.seed)
    loader = DataLoader(
        fit_data, batch_size=config.batch_size, shuffle=True, drop_last=True, generator=generator
    )
    for name, split in (("training", fit_data), ("validation", validation)):
        if len(split) < config.batch_size:
            raise ValueError(
                f"trainer.batch_size={config.batch_size} exceeds the {len(split)} {name} samples; "
                "batches drop the last incomplete one, so no full batch would remain"
            )
    state = LoopState()
    if config.resume:
        if not (checkpoint_dir / LAST).exists():
            raise FileNotFoundError(
                f"trainer.resume=true but there is no checkpoint at {checkpoint_dir / LAST}; "
                "point hydra.run.dir at the directory of the run to resume"
            )
        state = load_last(checkpoint_dir, model, optimizer, generator)

    epochs = tqdm(
        range(state.epoch, config.max_epochs),
        initial=state.epoch,
        total=config.max_epochs,
        desc="epochs",
        disable=not config.progress,
        leave=False,
    )
    for epoch in epochs:
        if state.finished:
            break
        model.train()
        running = 0.0
        for step, (x, _) in enumerate(loader):
            loss, _parts = model.loss(x.to(device, non_blocking=True))
            value = loss.item()
            _check_finite(value, f"at epoch {epoch}, step {step}", checkpoint_dir)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += value
        record: dict[str, float] = {"epoch": epoch, "train/loss": running / len(loader)}
        record.update(
            {f"val/{k}": v for k, v in average_loss(model, validation, config.batch_size).items()}
        )
        if test is not None:
            record.update(
                {f"test/{k}": v for k, v in average_loss(model, test, config.batch_size).items()}
            )
        _check_finite(
            record["val/loss"], f"on the validation split at epoch {epoch}", checkpoint_dir
        )

        if record["val/loss"] < state.best_val:
            state.best_val, state.best_epoch, state.bad_epochs = record["val/loss"], epoch, 0
            save_best(checkpoint_dir, model)
        else:
            state.bad_epochs += 1
        state.epoch = epoch + 1
        state.history.append(record)
        state.finished = state.bad_epochs >= config.patience
        save_last(checkpoint_dir, model, optimizer, state, generator)
        epochs.set_postfix(train=f"{record['train/loss']:.4g}", val=f"{record['val/loss']:.4g}")
        if on_epoch is not None:
            on_epoch(record)
    state.finished = True
    if config.reload_best:
        load_best(checkpoint_dir, model)
    return state
