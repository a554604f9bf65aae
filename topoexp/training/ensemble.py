"""Seeds trained together: K independent members of one model, trained in one process.

The members' parameters and buffers are stacked (:func:`torch.func.stack_module_state`). The
network passes (encode, decode and the model's reconstruction term) run once for all members
under :func:`torch.func.vmap`; each regulariser runs once per member on that member's slice of
the latents (the persistence pairings are host code that vmap cannot batch). The summed loss
gives each member exactly its own gradient, and Adam, being elementwise, updates each member's
slice of a stacked tensor as a separate Adam would update that member's tensor.

Each member keeps what a separate run has: its own batch order (the generator of its seed), its
batch-norm statistics, its validation and test losses, early stopping, ``best.pt`` and history,
and its ``on_epoch`` callback. A member that stops early (or whose loss becomes non-finite)
keeps its state while the others go on. So after training every member's weights equal those
of a separate run with its seed, up to the floating-point order of batched products
(``tests/test_ensemble.py``: 1e-6 in float64, batch norm and early stopping included).

Limits, checked before training: the members share every trainer setting but the seed, their
splits have equal sizes, and ensembles do not resume (``trainer.resume``). Models that draw
random numbers while training (the VAE's codes) get independent draws per member
(``randomness="different"``), not the draws a separate run would take.
"""

from __future__ import annotations

import copy
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap
from torch.utils.data import Dataset

from topoexp.losses.objective import ModelOutputs, _as_floats
from topoexp.training.batches import epoch_batches
from topoexp.training.checkpoint import LAST, LoopState, load_best, save_best, save_checkpoint
from topoexp.training.engine import NonFiniteLossError

__all__ = [
    "EnsembleMember",
    "Rendezvous",
    "StackedObjectives",
    "current_rendezvous",
    "fit_ensemble",
]

log = logging.getLogger("topoexp")

#: Trainer settings every member must share (the seed is each member's own).
SHARED = (
    "batch_size",
    "lr",
    "weight_decay",
    "max_epochs",
    "patience",
    "device",
    "reload_best",
    "drop_last",
    "batches",
    "fit_on",
)


@dataclass
class EnsembleMember:
    """One member: what ``Trainer.fit`` takes for a single run, and its outcome."""

    trainer: Any
    model: nn.Module
    fit_data: Dataset
    validation: Dataset
    checkpoint_dir: Path
    test: Dataset | None = None
    on_epoch: Callable[[dict[str, float], LoopState], None] | None = None
    on_step: Callable[[dict[str, float]], None] | None = None
    state: LoopState = field(default_factory=LoopState)
    error: BaseException | None = None
    active: bool = True
    final: dict[str, Tensor] | None = None  # the weights of the epoch it stopped at


class _Calls(nn.Module):
    """Runs one stage of an objective's training forward, so that :func:`functional_call`
    can run it with a member's tensors. Every stage also returns the buffers as they are
    afterwards: batch norm may update them in place or, for TopoAE's double update, replace
    them."""

    def __init__(self, objective: nn.Module) -> None:
        super().__init__()
        self.objective = objective

    def forward(self, stage: str, *args: Tensor) -> Any:
        return getattr(self, f"_{stage}")(*args)

    def _now(self) -> dict[str, Tensor]:
        return {name: b for name, b in self.named_buffers()}

    def _codes(self, x: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor], dict[str, Tensor]]:
        model = self.objective.model
        x = model._training_input(x)
        with self.objective._encoding():
            z, extra = model._training_codes(x)
        return x, z, extra, self._now()

    def _decode(
        self, x: Tensor, z: Tensor, extra: dict[str, Tensor]
    ) -> tuple[Tensor, Tensor, dict[str, Tensor], dict[str, Tensor]]:
        model = self.objective.model
        x_hat = model.decode(z)
        recon, parts = model._reconstruction_term(x, x_hat, extra)
        parts = {
            k: torch.as_tensor(v, dtype=recon.dtype, device=recon.device) for k, v in parts.items()
        }
        return x_hat, recon, parts, self._now()


class StackedObjectives:
    """K objectives (:class:`~topoexp.losses.objective.Objective`) as stacked tensors."""

    def __init__(self, objectives: Sequence[nn.Module]) -> None:
        calls = [_Calls(o) for o in objectives]
        self.k = len(calls)
        self.params, self.buffers = stack_module_state(calls)  # type: ignore[arg-type]
        self.template = copy.deepcopy(calls[0])
        self.objective = self.template.objective
        regularisers = self.objective.regularisers
        self.early = [k for k, r in regularisers.items() if r.reads == "latents"]

    def parameters(self) -> list[Tensor]:
        return list(self.params.values())

    def _stage(self, stage: str, *inputs: Any) -> Any:
        def one(params: dict, buffers: dict, *args: Any) -> Any:
            return functional_call(self.template, (params, buffers), (stage, *args))

        in_dims = (0, 0, *([0] * len(inputs)))
        out = vmap(one, in_dims=in_dims, randomness="different")(self.params, self.buffers, *inputs)
        *values, buffers = out
        self.buffers = {name: b.detach() for name, b in buffers.items()}
        return values

    def _regulariser(self, key: str, member: int, outputs: ModelOutputs) -> Any:
        prefix = f"objective.regularisers.{key}."
        state = {
            name[len(prefix) :]: t[member]
            for name, t in (*self.params.items(), *self.buffers.items())
            if name.startswith(prefix)
        }
        module = self.objective.regularisers[key]
        return functional_call(module, state, (outputs,))

    def losses(self, xs: Tensor, active: Sequence[bool]) -> list[tuple[Tensor, dict] | None]:
        """Each active member's ``(total, parts)`` for its batch ``xs[k]`` (as
        ``Objective.terms``: the model's parts, each regulariser's, then ``loss.total``)."""
        model, regularisers = self.objective.model, self.objective.regularisers
        x, z, extra = self._stage("codes", xs)
        done: list[dict[str, Any]] = [{} for _ in range(self.k)]
        for k in range(self.k):
            if active[k]:
                for key in self.early:
                    latents = ModelOutputs(x=x[k], z=z[k], model=model)
                    done[k][key] = self._regulariser(key, k, latents)
        x_hat, recon, parts = self._stage("decode", x, z, extra)
        results: list[tuple[Tensor, dict] | None] = []
        for k in range(self.k):
            if not active[k]:
                results.append(None)
                continue
            own = {name: value[k] for name, value in parts.items()}
            outputs = ModelOutputs(x[k], z[k], x_hat[k], recon[k], own, model)
            total, logged = recon[k], dict(own)
            for key in regularisers:
                contribution, more = done[k].get(key) or self._regulariser(key, k, outputs)
                total = total + contribution
                logged.update(more)
            logged["loss.total"] = total
            results.append((total, logged))
        return results

    def member_state(self, k: int) -> dict[str, Tensor]:
        """Member ``k``'s ``state_dict`` (of its objective), detached copies."""
        prefix = "objective."
        return {
            name[len(prefix) :]: t[k].detach().clone()
            for name, t in (*self.params.items(), *self.buffers.items())
        }

    def load_member(self, k: int, module: nn.Module) -> None:
        """Copy member ``k``'s parameters and buffers (non-persistent ones too) into
        ``module``, an objective of the same structure."""
        load_tensors(module, self.member_state(k))

    def train(self) -> None:
        self.template.train()


@torch.no_grad()
def load_tensors(module: nn.Module, state: dict[str, Tensor]) -> None:
    """Copy ``state`` into ``module``'s parameters and buffers of the same names."""
    for name, tensor in (*module.named_parameters(), *module.named_buffers()):
        tensor.copy_(state[name])


def _check_members(members: Sequence[EnsembleMember]) -> None:
    first = members[0].trainer
    for m in members[1:]:
        for key in SHARED:
            if getattr(m.trainer, key) != getattr(first, key):
                raise ValueError(
                    f"trainer.{key} differs between ensemble members: {getattr(first, key)!r} "
                    f"and {getattr(m.trainer, key)!r}; members share every setting but the seed"
                )
    if any(m.trainer.resume for m in members):
        raise ValueError("trainer.resume: ensembles do not resume; train them again")
    sizes = {(len(m.fit_data), len(m.validation)) for m in members}  # type: ignore[arg-type]
    if len(sizes) > 1:
        raise ValueError(f"ensemble members' splits differ in size: {sorted(sizes)}")


def fit_ensemble(members: Sequence[EnsembleMember]) -> list[EnsembleMember]:
    """Train the members together (see the module docstring); each ends holding its weights
    (its best checkpoint's with ``reload_best``) and its :class:`LoopState` or error."""
    from topoexp.training.loop import average_loss

    _check_members(members)
    trainer = members[0].trainer
    device = torch.device(trainer.device)
    for m in members:
        m.trainer.check_sizes(len(m.fit_data), len(m.validation))  # type: ignore[arg-type]
        m.model.to(device)
        m.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    stacked = StackedObjectives([m.model for m in members])
    optimizer = torch.optim.Adam(
        stacked.parameters(), lr=trainer.lr, weight_decay=trainer.weight_decay, foreach=True
    )
    size = trainer.batch_size

    def unshuffled(dataset: Dataset) -> Any:
        return epoch_batches(trainer.batches, dataset, size, False, True, None, device)

    sources = [
        epoch_batches(
            trainer.batches,
            m.fit_data,
            size,
            True,
            trainer.drop_last,
            torch.Generator().manual_seed(m.trainer.seed),
            device,
        )
        for m in members
    ]
    checks = [
        [("val", m.validation, unshuffled(m.validation))]
        + ([("test", m.test, unshuffled(m.test))] if m.test is not None else [])
        for m in members
    ]
    for epoch in range(trainer.max_epochs):
        if not any(m.active for m in members):
            break
        started = time.perf_counter()
        stacked.train()
        losses: list[list[float]] = [[] for _ in members]
        for step, batches in enumerate(zip(*sources, strict=True)):
            active = [m.active for m in members]
            results = stacked.losses(torch.stack(batches), active)
            total: Tensor | None = None
            for k, (m, result) in enumerate(zip(members, results, strict=True)):
                if result is None:
                    continue
                loss, parts = result
                value = loss.item()
                if not math.isfinite(value):
                    _fail(m, f"non-finite loss {{'loss': {value}}} at epoch {epoch}, step {step}")
                    continue
                losses[k].append(value)
                m.state.iteration += 1
                every = m.trainer.log_every
                if m.on_step is not None and every and step % every == 0:
                    floats = _as_floats(parts, loss.device)
                    m.on_step(
                        {
                            "epoch": epoch,
                            "step": step,
                            "global_step": epoch * len(sources[k]) + step,
                            "train/loss": value,
                            **{f"train/{key}": v for key, v in floats.items()},
                        }
                    )
                total = loss if total is None else total + loss
            optimizer.zero_grad(set_to_none=True)
            if total is not None:
                total.backward()
                optimizer.step()
        for k, m in enumerate(members):
            if m.active:
                _end_epoch(m, stacked, k, epoch, losses[k], checks[k], size, started, average_loss)
    for k, m in enumerate(members):
        m.state.finished = True
        if m.error is None and m.active:
            m.final = stacked.member_state(k)
        if m.final is not None:
            load_tensors(m.model, m.final)
        if m.error is None and trainer.reload_best and (m.checkpoint_dir / "best.pt").exists():
            load_best(m.checkpoint_dir, m.model)
    return list(members)


def _fail(member: EnsembleMember, where: str) -> None:
    member.active = False
    kept = f"{LAST} holds the last good epoch in {member.checkpoint_dir}"
    if member.state.epoch == 0:
        kept = "no epoch completed, so no checkpoint was written"
    member.error = NonFiniteLossError(f"{where}; training stopped: {kept}")


def _end_epoch(
    m: EnsembleMember,
    stacked: StackedObjectives,
    k: int,
    epoch: int,
    losses: list[float],
    checks: list[tuple[str, Dataset, Any]],
    batch_size: int,
    started: float,
    average_loss: Callable[..., dict[str, float]],
) -> None:
    """The single run's epoch end for member ``k``: mean train loss, validation and test
    losses, early stopping with ``best.pt``, the history, ``last.pt`` and ``on_epoch``."""
    state = m.state
    running = 0.0
    for value in losses:
        running += value
    record: dict[str, float] = {"epoch": epoch, "train/loss": running / len(losses)}
    stacked.load_member(k, m.model)
    for prefix, dataset, source in checks:
        values = average_loss(m.model, dataset, batch_size, batches=source)
        record |= {f"{prefix}/{key}": v for key, v in values.items()}
    value = record["val/loss"]
    if not math.isfinite(value):
        where = f"on the validation split at epoch {epoch}"
        _fail(m, f"non-finite loss {{'val/loss': {value}}} {where}")
        return
    if value < state.best_val:
        state.best_val, state.best_epoch, state.bad_epochs = value, epoch, 0
        save_best(m.checkpoint_dir, m.model)
    else:
        state.bad_epochs += 1
    stop = state.bad_epochs >= m.trainer.patience
    record["time/epoch_s"] = time.perf_counter() - started
    state.epoch = epoch + 1
    state.history.append(record)
    state.finished = stop
    save_checkpoint(m.checkpoint_dir / LAST, {"model": m.model}, {}, state)
    if m.on_epoch is not None:
        m.on_epoch(record, state)
    log.info(
        "member seed %d, epoch %d: train %.5g, validation %.5g%s",
        m.trainer.seed,
        epoch + 1,
        record["train/loss"],
        value,
        " *" if state.best_epoch == epoch else "",
    )
    if stop:
        m.active = False
        m.final = stacked.member_state(k)


_local = threading.local()


def current_rendezvous() -> Rendezvous | None:
    """The rendezvous of the ensemble member this thread runs, if any."""
    return getattr(_local, "rendezvous", None)


class Rendezvous:
    """Where the members' runs (one thread each) meet to train together.

    Each member's run goes on alone, one member at a time (``turn``), until its task calls
    ``Trainer.fit``; :meth:`submit` then waits until every member still running has arrived,
    the last to arrive trains them all (:func:`fit_ensemble`), and each run continues with its
    own evaluation and records, again one at a time. A run that ends before training (an
    error) departs from it in :meth:`leave`, so the others do not wait for it.
    """

    def __init__(self, n: int) -> None:
        self.expected, self.members, self.done = n, [], False
        self.turn = threading.Lock()
        self._cond = threading.Condition()

    def enter(self) -> None:
        """Start a member's run in this thread (waits for its turn)."""
        self.turn.acquire()
        _local.rendezvous, _local.submitted = self, False

    def leave(self) -> None:
        """End a member's run in this thread."""
        if not _local.submitted:
            self._depart()
        _local.rendezvous = None
        self.turn.release()

    def _ready(self) -> bool:
        return not self.done and bool(self.members) and len(self.members) == self.expected

    def _train(self) -> None:
        try:
            fit_ensemble(self.members)
        except BaseException as error:  # every member fails with it
            for m in self.members:
                m.error = m.error or error
        with self._cond:
            self.done = True
            self._cond.notify_all()

    def submit(self, member: EnsembleMember) -> EnsembleMember:
        """Train ``member`` with the others; returns it trained (or holding its error)."""
        if _local.submitted:
            raise RuntimeError(
                "trainer.ensemble trains one model per run, but this task trains more"
            )
        _local.submitted = True
        with self._cond:
            self.members.append(member)
            ready = self._ready()
        if ready:
            self._train()
            return member
        self.turn.release()
        with self._cond:
            while not self.done:
                self._cond.wait()
        self.turn.acquire()
        return member

    def _depart(self) -> None:
        with self._cond:
            self.expected -= 1
            ready = self._ready()
        if ready:
            self._train()
