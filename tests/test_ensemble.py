"""Seeds trained together equal separate runs (float64, batch norm and early stopping)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from topoexp.losses.objective import Objective
from topoexp.losses.regularisers import TopologicalSignature
from topoexp.models.autoencoders import MLPAutoencoder
from topoexp.training.ensemble import EnsembleMember, fit_ensemble
from topoexp.training.loop import NonFiniteLossError, Trainer

SEEDS = (3, 11, 29)


def _data(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g, dtype=torch.float64)
    return TensorDataset(x, torch.zeros(n))


def _objective(seed: int, regularised: bool) -> Objective:
    torch.manual_seed(seed)
    model = MLPAutoencoder(input_shape=(6,), hidden=(5,), latent_dim=2)
    regs = {"signature": TopologicalSignature(weight=0.5)} if regularised else {}
    return Objective(model, regs).double()


def _trainer(seed: int, **kw) -> Trainer:
    base = dict(batch_size=8, lr=0.1, max_epochs=9, patience=2, progress=False)
    return Trainer(**{**base, **kw, "seed": seed})


def _splits(seed: int) -> tuple[TensorDataset, TensorDataset, TensorDataset]:
    return _data(43, seed), _data(17, seed + 100), _data(9, seed + 200)


def _separate(tmp_path, seed: int, regularised: bool, **kw):
    model = _objective(seed, regularised)
    fit, val, test = _splits(seed)
    state = _trainer(seed, **kw).fit(model, fit, val, tmp_path / f"alone{seed}", test=test)
    return model, state


def _together(tmp_path, regularised: bool, **kw) -> list[EnsembleMember]:
    members = []
    for seed in SEEDS:
        fit, val, test = _splits(seed)
        members.append(
            EnsembleMember(
                _trainer(seed, **kw),
                _objective(seed, regularised),
                fit,
                val,
                tmp_path / f"member{seed}",
                test=test,
            )
        )
    return fit_ensemble(members)


@pytest.mark.parametrize("reload_best", [True, False])
@pytest.mark.parametrize("regularised", [True, False], ids=["signature", "plain"])
def test_every_member_equals_a_separate_run_with_its_seed(tmp_path, regularised, reload_best):
    members = _together(tmp_path, regularised, reload_best=reload_best)
    stopped = set()
    for seed, member in zip(SEEDS, members, strict=True):
        assert member.error is None
        model, state = _separate(tmp_path, seed, regularised, reload_best=reload_best)
        for (key, u), (_, v) in zip(
            model.state_dict().items(), member.model.state_dict().items(), strict=True
        ):
            assert torch.allclose(u.double(), v.double(), rtol=0, atol=1e-6), (seed, key)
        assert len(member.state.history) == len(state.history)
        assert member.state.best_epoch == state.best_epoch
        for mine, theirs in zip(member.state.history, state.history, strict=True):
            for key in ("train/loss", "val/loss", "test/loss"):
                assert mine[key] == pytest.approx(theirs[key], rel=1e-9, abs=1e-12)
        assert (tmp_path / f"member{seed}" / "best.pt").exists()
        stopped.add(len(state.history))
    assert min(stopped) < 9  # early stopping happened, the others went on
    assert len(stopped) > 1  # members stopped at different epochs


def test_batch_norm_statistics_are_each_members_own(tmp_path):
    members = _together(tmp_path, regularised=True)
    means = [m.model.state_dict()["model.encoder.1.running_mean"] for m in members]
    assert not torch.equal(means[0], means[1])
    assert all(
        int(m.model.state_dict()["model.encoder.1.num_batches_tracked"]) > 0 for m in members
    )


def test_a_member_with_a_non_finite_loss_fails_alone(tmp_path):
    members = []
    for seed in SEEDS[:2]:
        fit, val, _ = _splits(seed)
        if seed == SEEDS[1]:
            fit = TensorDataset(fit.tensors[0] * float("nan"), fit.tensors[1])
        members.append(
            EnsembleMember(_trainer(seed), _objective(seed, False), fit, val, tmp_path / str(seed))
        )
    fit_ensemble(members)
    assert members[0].error is None and members[0].state.epoch > 0
    assert isinstance(members[1].error, NonFiniteLossError)
    assert "epoch 0, step 0" in str(members[1].error)


def test_members_must_share_the_trainer_settings(tmp_path):
    fit, val, _ = _splits(0)
    members = [
        EnsembleMember(_trainer(s, lr=lr), _objective(s, False), fit, val, tmp_path / str(s))
        for s, lr in ((1, 1e-2), (2, 1e-3))
    ]
    with pytest.raises(ValueError, match=r"trainer\.lr differs"):
        fit_ensemble(members)
