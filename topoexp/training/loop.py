"""The epoch trainer of the TopoAE protocol (spec §2.5): a configuration of the engine.

Adam with weight decay, shuffled ``drop_last`` batches, and early stopping on the validation total
loss: the best model is checkpointed whenever the validation loss strictly improves, training stops
after ``patience`` epochs without improvement, and the best checkpoint is reloaded at the end. A
``last.pt`` checkpoint after every epoch holds optimiser, early-stopping and RNG state, so an
interrupted run resumes to bit-identical results on the CPU. ``batches``: ``memory`` holds the
split as one tensor on the device and gathers each batch from the permutation the DataLoader
draws for the same seed (the same batches and results, bit for bit); ``loader`` is the
DataLoader itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Literal

import torch
from annotated_types import Ge, Gt
from torch.utils.data import Dataset

from topoexp.config.markers import BUILD_ARG, ArgumentError
from topoexp.training.batches import BatchSource, epoch_batches
from topoexp.training.callbacks import (
    Checkpoint,
    EarlyStopping,
    EpochProgress,
    Evaluate,
    OnRecord,
    StepRecords,
)
from topoexp.training.checkpoint import LoopState
from topoexp.training.engine import Engine, NonFiniteLossError
from topoexp.training.ensemble import EnsembleMember, current_rendezvous
from topoexp.training.schedule import Epochs
from topoexp.training.steps import ModelLossStep

__all__ = ["NonFiniteLossError", "Trainer", "average_loss"]


def average_loss(
    model: torch.nn.Module,
    dataset: Dataset,
    batch_size: int,
    source: BatchSource = "loader",
    batches=None,
) -> dict[str, float]:
    """Per-sample averages of the loss components over ``dataset`` in eval mode.

    As in the original callback: batches of the training batch size, no shuffling,
    ``drop_last=True``, and Σ(batch value × batch size) divided by ``len(dataset)``.
    ``batches``: a prepared unshuffled batch source over ``dataset`` (else one is built).
    """
    model.eval()
    device = next(model.parameters()).device
    if batches is None:
        batches = epoch_batches(source, dataset, batch_size, False, True, None, device)
    totals: dict[str, float] = {}
    with torch.no_grad():
        for x in batches:
            loss, parts = model.loss(x)
            for key, value in {"loss": float(loss), **parts}.items():
                totals[key] = totals.get(key, 0.0) + float(value) * len(x)
    return {key: value / len(dataset) for key, value in totals.items()}  # type: ignore[arg-type]


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
    ``progress``, the logger and the paths), and every difference is recorded. ``batches``:
    ``memory`` (the split as one tensor on the device) or ``loader`` (a DataLoader); both give
    the same batches in the same order. ``ensemble``: seeds trained together in one process
    (:mod:`topoexp.training.ensemble`); each member writes the run directory
    ``<run dir>/seed_<seed>`` a single run with its seed would write (empty: one run).
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
        batches: BatchSource = "memory",
        ensemble: Sequence[int] = (),
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
        self.batches = batches
        self.ensemble = [int(s) for s in ensemble]
        if len(set(self.ensemble)) != len(self.ensemble):
            raise ArgumentError("ensemble", f"the members' seeds repeat: {self.ensemble}")
        if self.ensemble and resume:
            raise ArgumentError("ensemble", "ensembles do not resume (trainer.resume=true)")
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
        rendezvous = current_rendezvous()
        if rendezvous is not None:
            member = rendezvous.submit(
                EnsembleMember(
                    self, model, fit_data, validation, checkpoint_dir, test, on_epoch, on_step
                )
            )
            if member.error is not None:
                raise member.error
            return member.state
        device = torch.device(self.device)
        model.to(device)
        optimizer = torch.optim.Adam(
            model.parameters(), lr=self.lr, weight_decay=self.weight_decay, foreach=True
        )
        generator = torch.Generator().manual_seed(self.seed)
        train = epoch_batches(
            self.batches, fit_data, self.batch_size, True, self.drop_last, generator, device
        )

        def evaluator(dataset: Dataset) -> Callable[[], dict[str, float]]:
            source = epoch_batches(
                self.batches, dataset, self.batch_size, False, True, None, device
            )
            return lambda: average_loss(model, dataset, self.batch_size, batches=source)

        callbacks = [Evaluate("val", evaluator(validation))]
        if test is not None:
            callbacks.append(Evaluate("test", evaluator(test)))
        callbacks += [
            EarlyStopping(model, checkpoint_dir, self.patience, "val/loss", self.reload_best),
            Checkpoint(checkpoint_dir),
            EpochProgress(self.progress),
        ]
        if on_epoch is not None:
            callbacks.append(OnRecord(on_epoch))
        if on_step is not None and self.log_every:
            callbacks.append(StepRecords(on_step, self.log_every))
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        engine = Engine(
            ModelLossStep(model, optimizer),
            Epochs(self.max_epochs),
            train,
            callbacks,
            checkpoint_dir,
            generators={"batches": generator},
            resume=self.resume,
            device=device,
        )
        return engine.fit()
