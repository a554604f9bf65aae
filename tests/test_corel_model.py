"""COREL's branched autoencoder: architecture, branch independence, its objective with the
connectivity regulariser (``loss=connectivity``), config."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from topoexp.losses.connectivity import ConnectivityLoss
from topoexp.losses.objective import ModelOutputs, Objective
from topoexp.losses.regularisers import Connectivity
from topoexp.models.autoencoders import Autoencoder
from topoexp.models.corel import CorelAutoencoder, IndependentBranchesLinear


@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_and_layers(channels: int) -> None:
    model = CorelAutoencoder(input_shape=(channels, 32, 32))
    assert isinstance(model, Autoencoder) and model.latent_dim == 160
    x = torch.rand(4, channels, 32, 32)
    x_hat, z = model(x)
    assert x_hat.shape == x.shape and z.shape == (4, 160)
    assert model.encode(x).shape == (4, 160) and model.decode(z).shape == x.shape
    assert model.branches(z).shape == (16, 4, 10)
    torch.testing.assert_close(model.branches(z)[3], z[:, 30:40])
    kinds = [type(m) for m in model.modules()]
    assert not any(issubclass(k, nn.modules.batchnorm._BatchNorm) for k in kinds)
    assert not any(k in (nn.Sigmoid, nn.Tanh, nn.Dropout) for k in kinds)
    convs = [m for m in model.encoder if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride, c.padding) for c in convs] == [
        (channels, 32, (2, 2), (1, 1)),
        (32, 64, (2, 2), (1, 1)),
        (64, 128, (2, 2), (1, 1)),
    ]
    assert isinstance(model.encoder[-1], IndependentBranchesLinear)  # no latent activation
    assert isinstance(model.decoder[-1], nn.ConvTranspose2d)  # no output activation
    assert sum(isinstance(m, nn.ReLU) for m in model.decoder) == 2


def test_parameter_count() -> None:
    """Conv stack + two full-size (masked) linear layers with biases, as in the original."""
    model = CorelAutoencoder(input_shape=(3, 32, 32))
    convs = (3 * 32 * 9 + 32) + (32 * 64 * 9 + 64) + (64 * 128 * 9 + 128)
    deconvs = (128 * 64 * 9 + 64) + (64 * 32 * 9 + 32) + (32 * 3 * 9 + 3)
    linears = (2048 * 160 + 160) + (160 * 2048 + 2048)
    assert sum(p.numel() for p in model.parameters()) == convs + deconvs + linears


def test_independent_branches_mask() -> None:
    layer = IndependentBranchesLinear(in_per_branch=4, out_per_branch=3, n_branches=5)
    x = torch.randn(7, 20, requires_grad=True)
    y = layer(x)
    assert y.shape == (7, 15)
    jac = torch.autograd.functional.jacobian(lambda t: layer(t)[0], x)[:, 0]  # (15, 20)
    expected = torch.block_diag(*[torch.ones(3, 4)] * 5).bool()
    assert torch.all((jac != 0) == expected)
    y.sum().backward()
    assert torch.all(layer.weight.grad[~expected] == 0)
    assert "mask" not in layer.state_dict()


def test_branch_sees_its_channels_only() -> None:
    """Branch b of the latent depends on feature channels 8b … 8b + 7 only."""
    model = CorelAutoencoder(input_shape=(1, 32, 32))
    head = model.encoder[-1]
    features = torch.randn(2, 128, 4, 4)
    features[:, 16:24] += 1.0  # channels of branch 2
    base = head(torch.zeros(2, 2048))
    out = head(features.flatten(1)) - base
    changed = out.view(2, 16, 10).abs().amax(dim=(0, 2)) > 0
    features_only_2 = torch.zeros_like(features)
    features_only_2[:, 16:24] = features[:, 16:24]
    out2 = head(features_only_2.flatten(1)) - base
    assert changed.all()  # sanity: random features touch every branch
    assert torch.equal(out2.view(2, 16, 10).abs().amax(dim=(0, 2)) > 0, torch.arange(16) == 2)


def _corel(channels: int = 1, weight: float = 20.0, **kwargs) -> Objective:
    """COREL's objective as the one_class task builds it: the model + ``loss.connectivity``."""
    model = CorelAutoencoder(input_shape=(channels, 32, 32), **kwargs)
    return Objective(model, {"connectivity": Connectivity(weight=weight)})


def test_loss_and_parts() -> None:
    torch.manual_seed(0)
    objective = _corel(weight=20.0)
    model = objective.model
    x = torch.rand(12, 1, 32, 32)
    total, parts = objective.loss(x)
    x_hat, z = model(x)
    recon = (x_hat - x).abs().sum(dim=(1, 2, 3)).mean()
    topo, deaths = ConnectivityLoss(eta=2.0)(model.branches(z))
    torch.testing.assert_close(total, recon + 20.0 * topo)
    assert parts["loss.reconstruction"] == pytest.approx(recon.item(), rel=1e-6)
    assert parts["loss.connectivity"] == pytest.approx(topo.item(), rel=1e-6)
    assert parts["loss.total"] == pytest.approx(total.item(), rel=1e-6)
    assert all(isinstance(v, float) for v in parts.values())
    assert parts["death_time.min.b05"] == pytest.approx(deaths[5].min().item(), rel=1e-6)
    assert parts["death_time.mean.b15"] == pytest.approx(deaths[15].mean().item(), rel=1e-6)
    assert parts["death_time.max.b00"] == pytest.approx(deaths[0].max().item(), rel=1e-6)
    assert parts["death_time.max"] == pytest.approx(deaths.max().item(), rel=1e-6)
    assert parts["death_time.mean"] == pytest.approx(deaths.mean().item(), rel=1e-6)
    assert len(parts) == 3 + 3 + 3 * 16


def test_lambda_zero_is_plain_reconstruction() -> None:
    torch.manual_seed(0)
    x = torch.rand(10, 1, 32, 32)
    a = _corel(weight=0.0)
    b = _corel(weight=20.0)
    b.load_state_dict(a.state_dict())
    total_a, parts_a = a.loss(x)
    assert total_a.item() == pytest.approx(parts_a["loss.reconstruction"])
    assert parts_a["loss.total"] == pytest.approx(parts_a["loss.reconstruction"])
    assert parts_a["loss.connectivity"] > 0  # still logged, with the death times
    _, z = a.model(x)
    _, deaths = ConnectivityLoss(eta=2.0)(a.model.branches(z))
    assert parts_a["death_time.mean"] == pytest.approx(deaths.mean().item(), rel=1e-6)
    recon_b = b.model.reconstruction_loss(x)
    ga = torch.autograd.grad(total_a, a.model.decoder[-1].weight)[0]
    gb = torch.autograd.grad(recon_b, b.model.decoder[-1].weight)[0]
    torch.testing.assert_close(ga, gb)
    # and no gradient at all reaches the encoder from the term
    z = a.model.encode(x)
    contribution, _ = a.regularisers["connectivity"](ModelOutputs(x=x, z=z, model=a.model))
    assert not contribution.requires_grad and contribution.item() == 0.0


def test_the_model_alone_trains_on_its_reconstruction_term() -> None:
    """``loss=none``: the model's own ℓ1 term and nothing else."""
    torch.manual_seed(0)
    model = CorelAutoencoder(input_shape=(1, 32, 32))
    x = torch.rand(6, 1, 32, 32)
    total, parts = Objective(model, {}).loss(x)
    recon = (model(x)[0] - x).abs().sum(dim=(1, 2, 3)).mean()
    torch.testing.assert_close(total, recon)
    assert set(parts) == {"loss.reconstruction", "loss.total"}
    assert model.loss(x)[1] == {"loss.reconstruction": pytest.approx(recon.item(), rel=1e-6)}


def test_connectivity_gradient_reaches_encoder_only() -> None:
    model = CorelAutoencoder(input_shape=(1, 32, 32))
    x = torch.rand(8, 1, 32, 32)
    z = model.encode(x)
    topo, _ = Connectivity()(ModelOutputs(x=x, z=z, model=model))
    topo.backward()
    assert model.encoder[0].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.decoder.parameters())


@pytest.mark.parametrize(("branches", "dims"), [(32, 20), (8, 5), (1, 160)])
def test_ablation_shapes(branches: int, dims: int) -> None:
    objective = _corel(3, n_branches=branches, branch_dim=dims)
    model = objective.model
    total, parts = objective.loss(torch.rand(5, 3, 32, 32))
    assert model.encode(torch.rand(2, 3, 32, 32)).shape == (2, branches * dims)
    assert f"death_time.mean.b{branches - 1:02d}" in parts and total.isfinite()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"input_shape": (0, 32, 32)}, "in_channels"),
        ({"input_shape": (3, 30, 30)}, "input_shape"),  # not a multiple of 2^3
        ({"input_shape": (3, 32, 28)}, "input_shape"),  # not square
        ({"input_shape": (784,)}, "input_shape"),  # not images
        ({"n_branches": 3}, "n_branches"),
        ({"branch_dim": 0}, "branch_dim"),
        ({"filters": []}, "filters"),
    ],
)
def test_validation(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        CorelAutoencoder(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"weight": -1.0}, "weight"),
        ({"eta": -2.0}, "eta"),
        ({"branch_reduction": "median"}, "branch_reduction"),
    ],
)
def test_connectivity_validation(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Connectivity(**kwargs)


def test_hydra_instantiate() -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(
        {
            "_target_": "topoexp.models.corel.CorelAutoencoder",
            "input_shape": [1, 32, 32],
            "filters": [16, 32, 64],
            "n_branches": 8,
            "branch_dim": 5,
        }
    )
    model = instantiate(cfg)
    assert model.filters == (16, 32, 64) and model.input_shape == (1, 32, 32)
    assert model(torch.rand(3, 1, 32, 32))[1].shape == (3, 40)
    term = instantiate(
        {"_target_": "topoexp.losses.regularisers.Connectivity", "weight": 10.0,
         "branch_reduction": "sum"}
    )  # fmt: skip
    assert term.weight == 10.0 and term.connectivity.branch_reduction == "sum"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_loss() -> None:
    model = CorelAutoencoder(input_shape=(3, 32, 32)).cuda()
    total, parts = model.loss(torch.rand(100, 3, 32, 32, device="cuda"))
    total.backward()
    assert total.device.type == "cuda" and model.encoder[0].weight.grad.device.type == "cuda"
    assert all(isinstance(v, float) for v in parts.values())
