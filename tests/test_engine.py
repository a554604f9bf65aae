"""The training engine: in-memory batches equal the DataLoader's, the trainer equals the loop it
replaced, resume, early stopping, the non-finite stop and the iteration schedule."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset, TensorDataset

from tests.test_homreg_task import write_fake_mnist
from topoexp.data.images import build_transform
from topoexp.training.batches import LoaderBatches, MemoryBatches, StreamBatches, materialise
from topoexp.training.checkpoint import LAST, load_checkpoint
from topoexp.training.engine import Engine, NonFiniteLossError
from topoexp.training.gan_loop import GANTrainer
from topoexp.training.loop import Trainer
from topoexp.training.schedule import Iterations
from topoexp.training.steps import FunctionStep


class TinyAE(nn.Module):
    """A float64 autoencoder with dropout (so the global random stream matters)."""

    def __init__(self, d: int = 6) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, 4), nn.Dropout(0.3), nn.ReLU(), nn.Linear(4, d))
        self.double()
        self.poison_at: int | None = None
        self.calls = 0

    def loss(self, x):
        x = x.reshape(len(x), -1).double()
        err = (self.net(x) - x).square().mean()
        if self.training:
            self.calls += 1
            if self.poison_at is not None and self.calls >= self.poison_at:
                err = err * float("nan")
        return err, {"reconstruction": float(err.detach())}


def _data(n: int = 23, d: int = 6, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, d, generator=g, dtype=torch.float64), torch.zeros(n))


def _trainer(**kw) -> Trainer:
    base = dict(batch_size=5, lr=1e-2, max_epochs=4, patience=10, progress=False, seed=3)
    return Trainer(**{**base, **kw})


def _fit(trainer: Trainer, tmp, seed: int = 0, **kw):
    torch.manual_seed(seed)
    model = TinyAE()
    state = trainer.fit(model, _data(), _data(11, seed=1), tmp, test=_data(7, seed=2), **kw)
    return model, state


def _same_weights(a: nn.Module, b: nn.Module) -> None:
    for (k, u), (_, v) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(u, v), k


# ------------------------------------------------------------------------- batches


@pytest.mark.parametrize("drop_last", [True, False])
def test_memory_batches_equal_the_dataloader_and_leave_the_same_random_streams(drop_last):
    ds = _data(23)
    out = {}
    for name in ("loader", "memory"):
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(7)
        if name == "loader":
            train = LoaderBatches(ds, 5, True, drop_last, g)
            val = LoaderBatches(ds, 5, False, True)
        else:
            train = MemoryBatches(materialise(ds), 5, True, drop_last, g)
            val = MemoryBatches(materialise(ds), 5, False, True)
        seen = [[x.clone() for x in train] + [x.clone() for x in val] for _ in range(3)]
        out[name] = (seen, torch.rand(3), g.get_state())
    (a, ra, ga), (b, rb, gb) = out["loader"], out["memory"]
    assert len(a[0]) == (4 if drop_last else 5) + 4
    for ea, eb in zip(a, b, strict=True):
        for xa, xb in zip(ea, eb, strict=True):
            assert torch.equal(xa, xb)
    assert torch.equal(ra, rb) and torch.equal(ga, gb)


@pytest.mark.parametrize("transform", ["topoae", "corel", "corel32"])
def test_mnist_splits_in_memory_decode_to_the_transforms_values(tmp_path, transform):
    from torchvision.datasets import MNIST

    write_fake_mnist(tmp_path)
    ds = MNIST(tmp_path, train=False, transform=build_transform(transform, "mnist"))
    sub = Subset(ds, list(range(3, 40, 2)))
    data = materialise(sub)
    assert data.stored.dtype == (torch.float32 if transform == "corel32" else torch.uint8)
    private = torch.Generator()
    expected = torch.cat([x for x, _ in DataLoader(sub, batch_size=7, generator=private)])
    got = data.rows(torch.arange(len(sub)))
    assert got.dtype == expected.dtype and torch.equal(got, expected)


# ------------------------------------------------------------------------- the epoch trainer


def _reference_fit(tmp, seed: int = 0, max_epochs: int = 4, patience: int = 10, lr: float = 1e-2):
    """The epoch loop the engine replaced, written out: DataLoader batches, Adam, early
    stopping on the validation loss, the best weights reloaded."""
    torch.manual_seed(seed)
    model = TinyAE()
    fit, val, test = _data(), _data(11, seed=1), _data(7, seed=2)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-5, foreach=True)
    g = torch.Generator().manual_seed(3)
    loader = DataLoader(fit, batch_size=5, shuffle=True, drop_last=True, generator=g)
    best, best_state, bad, history = math.inf, None, 0, []

    def average(ds):
        model.eval()
        total = 0.0
        with torch.no_grad():
            for x, _ in DataLoader(ds, batch_size=5, shuffle=False, drop_last=True):
                total += float(model.loss(x)[0]) * len(x)
        return total / len(ds)

    for _ in range(max_epochs):
        model.train()
        running = 0.0
        for x, _ in loader:
            loss, _ = model.loss(x)
            value = loss.item()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += value
        record = {"train/loss": running / len(loader), "val/loss": average(val)}
        record["test/loss"] = average(test)
        history.append(record)
        if record["val/loss"] < best:
            best, bad = record["val/loss"], 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
        if bad >= patience:
            break
    model.load_state_dict(best_state)
    return model, history


@pytest.mark.parametrize("batches", ["memory", "loader"])
def test_the_trainer_equals_the_hand_written_loop_bit_for_bit(tmp_path, batches):
    ref, ref_history = _reference_fit(tmp_path / "ref")
    model, state = _fit(_trainer(batches=batches), tmp_path / "run")
    _same_weights(ref, model)
    for r, h in zip(ref_history, state.history, strict=True):
        assert r["train/loss"] == h["train/loss"] and r["val/loss"] == h["val/loss"]
        assert r["test/loss"] == h["test/loss"]


def test_resume_gives_the_uninterrupted_run_bit_for_bit(tmp_path):
    whole, whole_state = _fit(_trainer(reload_best=False), tmp_path / "whole")
    _fit(_trainer(max_epochs=2, reload_best=False), tmp_path / "parts")
    torch.manual_seed(123)  # a different stream before resuming: the checkpoint restores it
    part, part_state = _fit(_trainer(resume=True, reload_best=False), tmp_path / "parts", seed=9)
    _same_weights(whole, part)
    assert [r["val/loss"] for r in whole_state.history] == [
        r["val/loss"] for r in part_state.history
    ]
    assert load_checkpoint(tmp_path / "parts" / LAST)["loop"]["epoch"] == 4


def test_early_stopping_stops_after_patience_and_reloads_the_best(tmp_path):
    ref, ref_history = _reference_fit(tmp_path / "ref", max_epochs=12, patience=1, lr=0.3)
    model, state = _fit(_trainer(max_epochs=12, patience=1, lr=0.3), tmp_path / "run")
    vals = [r["val/loss"] for r in state.history]
    assert len(vals) == len(ref_history) < 12  # stopped early
    assert vals[-1] >= min(vals[:-1]) and state.bad_epochs == 1
    assert state.best_epoch == vals.index(min(vals))
    _same_weights(ref, model)  # the best epoch's weights


def test_a_non_finite_loss_stops_keeping_the_last_good_epoch(tmp_path):
    torch.manual_seed(0)
    model = TinyAE()
    model.poison_at = 4 + 2  # 4 steps per epoch: the 2nd step of the 2nd epoch
    with pytest.raises(
        NonFiniteLossError, match=r"at epoch 1, step 1.*last good state \(epoch 1\)"
    ):
        _trainer().fit(model, _data(), _data(11, seed=1), tmp_path)
    last = load_checkpoint(tmp_path / LAST)
    assert last["loop"]["epoch"] == 1 and last["loop"]["iteration"] == 4
    assert all(torch.isfinite(v).all() for v in last["model"].values())
    assert isinstance(NonFiniteLossError("x"), FloatingPointError)


# ------------------------------------------------------------------------- iterations


def _iteration_run(tmp, total: int, resume: bool = False, poison: int | None = None):
    torch.manual_seed(0)
    net = nn.Linear(3, 1).double()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    data = torch.randn(17, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    sampler = StreamBatches(len(data), 4, seed=5)
    noise = torch.Generator().manual_seed(6)

    def step(it: int) -> dict[str, float]:
        x = data[sampler.next()] + 0.1 * torch.randn(4, 3, generator=noise, dtype=torch.float64)
        loss = net(x).square().mean() * (float("nan") if it == poison else 1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}

    trainer = GANTrainer(iterations=total, checkpoint_every=3, log_every=2, resume=resume)
    trainer.progress = False
    state = trainer.fit({"net": net}, {"net": opt}, sampler, step, tmp, generators={"n": noise})
    return net, state


def test_the_iteration_schedule_records_checkpoints_and_resumes_exactly(tmp_path):
    whole, state = _iteration_run(tmp_path / "whole", 9)
    assert [r["iteration"] for r in state.history] == [2, 4, 6, 8, 9]
    assert load_checkpoint(tmp_path / "whole" / LAST)["loop"]["finished"]
    _iteration_run(tmp_path / "parts", 5)
    part, part_state = _iteration_run(tmp_path / "parts", 9, resume=True)
    _same_weights(whole, part)
    # the shorter run recorded its last iteration (5) too; every other record is the same
    resumed = {r["iteration"]: r["loss"] for r in part_state.history}
    assert sorted(resumed) == [2, 4, 5, 6, 8, 9]
    assert all(resumed[r["iteration"]] == r["loss"] for r in state.history)


def test_the_iteration_schedule_stops_on_nan_before_saving_that_step(tmp_path):
    with pytest.raises(FloatingPointError, match=r"iteration 8.*last good state \(iteration 6\)"):
        _iteration_run(tmp_path, 9, poison=7)
    assert load_checkpoint(tmp_path / LAST)["loop"]["iteration"] == 6


def test_an_engine_without_checkpoints_says_so_on_nan():
    step = FunctionStep(lambda it: {"loss": float("nan")}, {}, {})
    with pytest.raises(NonFiniteLossError, match="no checkpoint"):
        Engine(step, Iterations(3)).fit()


def test_a_checkpoint_of_the_earlier_epoch_format_resumes_exactly(tmp_path):
    whole, _ = _fit(_trainer(reload_best=False), tmp_path / "whole")
    _fit(_trainer(max_epochs=2, reload_best=False), tmp_path / "old")
    new = load_checkpoint(tmp_path / "old" / LAST)
    loop = {k: v for k, v in new["loop"].items() if k != "iteration"}
    rng = {**new["rng"], "loader": new["generators"]["batches"]}
    old = {"model": new["model"], "optimizer": new["optimizer"], "loop": loop, "rng": rng}
    torch.save(old, tmp_path / "old" / LAST)  # the keys the epoch loop wrote before the engine
    part, _ = _fit(_trainer(resume=True, reload_best=False), tmp_path / "old", seed=9)
    _same_weights(whole, part)
