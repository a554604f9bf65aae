"""Architectures of spec §2.1 and the topologically regularised AE of §2.3."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from topoexp.models.autoencoders import Autoencoder, DeepAE, LinearAE, MLPAutoencoder
from topoexp.models.topoae import TopologicallyRegularizedAE, pairwise_distances


def _mst_edges(d: np.ndarray) -> list[tuple[int, int]]:
    """Reference MST edges of a distance matrix (Prim, O(n^3); tiny inputs only)."""
    n = len(d)
    inside, edges = {0}, []
    while len(inside) < n:
        i, j = min(
            ((a, b) for a in inside for b in range(n) if b not in inside), key=lambda e: d[e]
        )
        edges.append((min(i, j), max(i, j)))
        inside.add(j)
    return edges


class _StandInSignature(nn.Module):
    """Symmetric signature loss of spec §2.3 step 7, used until losses/signature.py exists."""

    def forward(self, d_x: Tensor, d_z: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        pi_x = _mst_edges(d_x.detach().numpy())
        pi_z = _mst_edges(d_z.detach().numpy())
        ix, jx = map(list, zip(*pi_x, strict=True))
        iz, jz = map(list, zip(*pi_z, strict=True))
        d12 = ((d_x[ix, jx] - d_z[ix, jx]) ** 2).sum()
        d21 = ((d_z[iz, jz] - d_x[iz, jz]) ** 2).sum()
        diag = {
            "matched_pairs_0d": torch.tensor(float(len(set(pi_x) & set(pi_z)))),
            "distance1_2": d12.detach(),
            "distance2_1": d21.detach(),
        }
        return (d12 + d21) / len(d_x), diag


def _signature() -> nn.Module:
    try:
        from topoexp.losses.signature import SignatureLoss
    except ImportError:
        return _StandInSignature()
    return SignatureLoss()


def _types(module: nn.Sequential) -> list[type]:
    return [type(m) for m in module]


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _linear(d_in: int, d_out: int) -> int:
    return d_in * d_out + d_out


# --- architectures -------------------------------------------------------------------------------


def test_mlp_autoencoder_layers_and_parameter_count() -> None:
    model = MLPAutoencoder()
    L, BN, R = nn.Linear, nn.BatchNorm1d, nn.ReLU
    assert _types(model.encoder) == [L, BN, R, L, BN, R, L]  # BN before ReLU, linear output
    assert _types(model.decoder) == [L, BN, R, L, BN, R, L]
    enc_lin = [(m.in_features, m.out_features) for m in model.encoder if isinstance(m, L)]
    dec_lin = [(m.in_features, m.out_features) for m in model.decoder if isinstance(m, L)]
    assert enc_lin == [(101, 32), (32, 32), (32, 2)]
    assert dec_lin == [(2, 32), (32, 32), (32, 101)]
    bn = 2 * 32  # weight and bias of one BatchNorm1d(32)
    encoder = _linear(101, 32) + bn + _linear(32, 32) + bn + _linear(32, 2)  # 4514
    decoder = _linear(2, 32) + bn + _linear(32, 32) + bn + _linear(32, 101)  # 4613
    assert _n_params(model) == encoder + decoder == 9127
    x_hat, z = model(torch.randn(8, 101))
    assert x_hat.shape == (8, 101) and z.shape == (8, 2)


def test_mlp_autoencoder_configurable() -> None:
    model = MLPAutoencoder(input_shape=(10,), hidden=(16, 8, 4), latent_dim=3)
    dec_lin = [(m.in_features, m.out_features) for m in model.decoder if isinstance(m, nn.Linear)]
    assert dec_lin == [(3, 4), (4, 8), (8, 16), (16, 10)]
    assert model.encode(torch.randn(5, 10)).shape == (5, 3)


def test_deep_ae_layers_and_parameter_count() -> None:
    model = DeepAE()
    L, R, BN = nn.Linear, nn.ReLU, nn.BatchNorm1d
    assert _types(model.encoder) == [nn.Flatten, L, R, BN, L, R, BN, L, R, BN, L]  # BN after ReLU
    assert _types(model.decoder) == [L, R, BN, L, R, BN, L, R, BN, L, nn.Unflatten, nn.Tanh]
    enc_lin = [(m.in_features, m.out_features) for m in model.encoder if isinstance(m, L)]
    assert enc_lin == [(784, 1000), (1000, 500), (500, 250), (250, 2)]
    encoder = (
        _linear(784, 1000)
        + 2 * 1000
        + _linear(1000, 500)
        + 2 * 500
        + _linear(500, 250)
        + 2 * 250
        + _linear(250, 2)
    )
    decoder = (
        _linear(2, 250)
        + 2 * 250
        + _linear(250, 500)
        + 2 * 500
        + _linear(500, 1000)
        + 2 * 1000
        + _linear(1000, 784)
    )
    assert _n_params(model) == encoder + decoder == 2_830_286
    x_hat, z = model(torch.randn(4, 1, 28, 28))
    assert x_hat.shape == (4, 1, 28, 28) and z.shape == (4, 2)
    assert x_hat.abs().max() <= 1.0


def test_deep_ae_cifar_shape() -> None:
    model = DeepAE(input_shape=(3, 32, 32))
    assert model.encoder[1].in_features == 3072 and model.decoder[-3].out_features == 3072
    assert model(torch.randn(2, 3, 32, 32))[0].shape == (2, 3, 32, 32)


def test_linear_ae_spheres_and_images() -> None:
    spheres = LinearAE(input_shape=(101,))
    assert _types(spheres.encoder) == [nn.Linear] and _types(spheres.decoder) == [nn.Linear]
    assert (spheres.encoder[0].in_features, spheres.encoder[0].out_features) == (101, 2)
    assert (spheres.decoder[0].in_features, spheres.decoder[0].out_features) == (2, 101)
    images = LinearAE(input_shape=(1, 28, 28))
    assert _types(images.encoder) == [nn.Flatten, nn.Linear]
    assert _types(images.decoder) == [nn.Linear, nn.Unflatten]
    assert _n_params(images) == _linear(784, 2) + _linear(2, 784)
    x = torch.randn(3, 1, 28, 28)
    assert images(x)[0].shape == x.shape
    # No activation anywhere: the map x -> x_hat is affine.
    f = lambda t: images(t)[0]  # noqa: E731
    x2 = torch.randn(3, 1, 28, 28)
    torch.testing.assert_close(f(x + x2) - f(x2), f(x) - f(torch.zeros_like(x)))


@pytest.mark.parametrize("model", [MLPAutoencoder(), LinearAE((101,))], ids=["mlp", "linear"])
def test_reconstruction_loss_is_mean_mse(model: Autoencoder) -> None:
    x = torch.randn(6, 101)
    x_hat, _ = model(x)
    expected = ((x_hat - x) ** 2).mean()
    torch.testing.assert_close(model.reconstruction_loss(x), expected)
    total, parts = model.loss(x)
    torch.testing.assert_close(total, expected)
    assert set(parts) == {"loss.autoencoder", "reconstruction_error"}
    assert parts["reconstruction_error"] == pytest.approx(expected.item())


# --- topologically regularised AE ----------------------------------------------------------------


def test_pairwise_distances_safe_gradient_with_duplicates() -> None:
    x = torch.randn(6, 4, dtype=torch.float64)
    x[4] = x[1]
    x.requires_grad_(True)
    d = pairwise_distances(x)
    assert torch.all(d.diagonal() == 0) and d[1, 4] == 0
    torch.testing.assert_close(d, torch.norm(x[:, None] - x[None], dim=2))
    (grad,) = torch.autograd.grad((d * torch.rand_like(d)).sum(), x)
    assert torch.isfinite(grad).all()


def test_data_norm_auto_image_batch_divides_by_56() -> None:
    model = TopologicallyRegularizedAE(LinearAE((1, 28, 28)), lam=1.0, signature=_signature())
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    d_x, _ = model.distances(x, model.encode(x))
    assert model.term.data_scale(x, d_x) == 56.0
    torch.testing.assert_close(d_x, pairwise_distances(x.flatten(1)) / 56.0)
    cifar = torch.zeros(2, 3, 32, 32)
    assert model.term.data_scale(cifar, d_x) == pytest.approx(math.sqrt(4 * 3 * 32 * 32))


def test_data_norm_auto_vector_batch_divides_by_batch_max() -> None:
    model = TopologicallyRegularizedAE(MLPAutoencoder(), lam=1.0, signature=_signature())
    x = torch.randn(7, 101) * 3
    d_x, d_z = model.distances(x, model.encode(x))
    raw = pairwise_distances(x)
    torch.testing.assert_close(d_x, raw / raw.max())
    assert d_x.max().item() == pytest.approx(1.0)
    assert d_z.max().item() != pytest.approx(1.0)  # D_Z is not max-normalised


@pytest.mark.parametrize(
    ("mode", "scale"),
    [("batch_max", None), ("image_max", math.sqrt(4 * 784)), ("none", 1.0)],
)
def test_data_norm_explicit_modes(mode: str, scale: float | None) -> None:
    model = TopologicallyRegularizedAE(
        LinearAE((1, 28, 28)), lam=1.0, signature=_signature(), data_norm=mode
    )
    x = torch.randn(4, 1, 28, 28)
    raw = pairwise_distances(x.flatten(1))
    d_x, _ = model.distances(x, model.encode(x))
    torch.testing.assert_close(d_x, raw / (raw.max() if scale is None else scale))


def test_invalid_data_norm() -> None:
    with pytest.raises(ValueError, match="data_norm"):
        TopologicallyRegularizedAE(MLPAutoencoder(), 1.0, _signature(), data_norm="max")


def test_latent_norm_is_a_parameter_with_gradient() -> None:
    torch.manual_seed(0)
    model = TopologicallyRegularizedAE(MLPAutoencoder(), lam=0.5, signature=_signature())
    assert isinstance(model.latent_norm, nn.Parameter)
    assert model.latent_norm.item() == 1.0
    assert any(p is model.latent_norm for p in model.parameters())
    total, _ = model.loss(torch.randn(10, 101))
    total.backward()
    assert model.latent_norm.grad is not None and model.latent_norm.grad.abs() > 0
    x = torch.randn(5, 101)
    z = model.encode(x)
    _, d_z1 = model.distances(x, z)
    with torch.no_grad():
        model.latent_norm.fill_(2.0)
    _, d_z2 = model.distances(x, z)
    torch.testing.assert_close(d_z2, d_z1 / 2)


@pytest.mark.parametrize(("encode_twice", "expected"), [(True, 2), (False, 1)])
def test_encode_twice_updates_encoder_batch_norm_twice(encode_twice: bool, expected: int) -> None:
    ae = MLPAutoencoder()
    model = TopologicallyRegularizedAE(ae, 0.4, _signature(), encode_twice=encode_twice)
    model.train()
    model.loss(torch.randn(12, 101))
    enc_bn = [m for m in ae.encoder if isinstance(m, nn.BatchNorm1d)]
    dec_bn = [m for m in ae.decoder if isinstance(m, nn.BatchNorm1d)]
    assert all(int(m.num_batches_tracked) == expected for m in enc_bn)
    assert all(int(m.num_batches_tracked) == 1 for m in dec_bn)


def test_encode_twice_is_equivalent_in_eval_mode() -> None:
    torch.manual_seed(1)
    ae = MLPAutoencoder()
    x = torch.randn(9, 101)
    a = TopologicallyRegularizedAE(ae, 0.4, _signature(), encode_twice=True).eval()
    b = TopologicallyRegularizedAE(ae, 0.4, _signature(), encode_twice=False).eval()
    torch.testing.assert_close(a.loss(x)[0], b.loss(x)[0])


@pytest.mark.parametrize("image", [False, True], ids=["vector", "image"])
def test_no_nan_gradients_with_duplicate_points(image: bool) -> None:
    torch.manual_seed(2)
    if image:
        ae: Autoencoder = DeepAE(hidden=(16, 8))
        x = torch.rand(6, 1, 28, 28) * 2 - 1
    else:
        ae = MLPAutoencoder()
        x = torch.randn(6, 101)
    x[3] = x[0]
    x[5] = x[0]
    model = TopologicallyRegularizedAE(ae, lam=1.0, signature=_signature())
    total, parts = model.loss(x)
    total.backward()
    assert math.isfinite(total.item()) and all(math.isfinite(v) for v in parts.values())
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_loss_equals_mse_plus_lambda_signature_by_hand() -> None:
    torch.manual_seed(3)
    ae = LinearAE((6,))
    lam = 0.7
    model = TopologicallyRegularizedAE(ae, lam=lam, signature=_signature()).double()
    with torch.no_grad():
        model.latent_norm.fill_(1.3)
    x = torch.randn(5, 6, dtype=torch.float64)
    total, parts = model.loss(x)

    with torch.no_grad():
        z = ae.encoder(x)
        x_hat = ae.decoder(z)
        mse = float(((x_hat - x) ** 2).mean())
        d_x = torch.norm(x[:, None] - x[None], dim=2)
        d_x = (d_x / d_x.max()).numpy()
        d_z = (torch.norm(z[:, None] - z[None], dim=2) / 1.3).numpy()
    pi_x, pi_z = _mst_edges(d_x), _mst_edges(d_z)
    l_xz = sum((d_x[e] - d_z[e]) ** 2 for e in pi_x)
    l_zx = sum((d_z[e] - d_x[e]) ** 2 for e in pi_z)
    topo = (l_xz + l_zx) / 5

    assert total.item() == pytest.approx(mse + lam * topo, rel=1e-9)
    assert parts["loss.autoencoder"] == pytest.approx(mse, rel=1e-9)
    assert parts["reconstruction_error"] == pytest.approx(mse, rel=1e-9)
    assert parts["loss.topo_error"] == pytest.approx(topo, rel=1e-9)
    assert parts["metrics.distance1-2"] == pytest.approx(l_xz, rel=1e-9)
    assert parts["metrics.distance2-1"] == pytest.approx(l_zx, rel=1e-9)
    assert parts["metrics.matched_pairs_0D"] == len(set(pi_x) & set(pi_z))
    assert all(isinstance(v, float) for v in parts.values())


def test_topoae_delegates_to_autoencoder() -> None:
    ae = LinearAE((101,)).eval()
    model = TopologicallyRegularizedAE(ae, lam=1.0, signature=_signature())
    x = torch.randn(4, 101)
    torch.testing.assert_close(model.encode(x), ae.encode(x))
    z = torch.randn(4, 2)
    torch.testing.assert_close(model.decode(z), ae.decode(z))
    torch.testing.assert_close(model(x)[0], ae(x)[0])
    assert model.latent_dim == 2


@pytest.mark.parametrize("arch", ["mlp", "deep"])
def test_encode_twice_matches_a_literal_second_encoder_pass(arch: str) -> None:
    """The original computes the reconstruction with a second full autoencoder call; the
    emulated second batch-norm update must leave the same buffers and gradients."""
    import copy

    from topoexp.losses.signature import SignatureLoss

    torch.manual_seed(0)
    base = MLPAutoencoder() if arch == "mlp" else DeepAE(hidden=(64, 32, 16))
    x = torch.randn(24, 101) if arch == "mlp" else torch.rand(24, 1, 28, 28) * 2 - 1
    ours = TopologicallyRegularizedAE(copy.deepcopy(base), 0.7, SignatureLoss(), encode_twice=True)
    literal = TopologicallyRegularizedAE(
        copy.deepcopy(base), 0.7, SignatureLoss(), encode_twice=True
    )
    ours.train(), literal.train()

    total, _ = ours.loss(x)
    total.backward()
    # the original's order: encode, distances, then a second full autoencoder call
    z = literal.autoencoder.encode(x)
    d_x, d_z = literal.distances(x, z)
    x_hat = literal.autoencoder(x)[0]
    topo = literal.term.signature(d_x, d_z)
    (torch.nn.functional.mse_loss(x_hat, x) + 0.7 * topo).backward()

    for (name, a), b in zip(ours.state_dict().items(), literal.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    for (name, a), b in zip(ours.named_parameters(), literal.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_data_distances_match_direct_differences() -> None:
    from topoexp.models.topoae import data_distances

    torch.manual_seed(1)
    x = torch.rand(50, 784, dtype=torch.float64) * 2 - 1
    x[7] = x[3]  # a duplicate point
    direct = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")
    ours = data_distances(x.float()).double()
    torch.testing.assert_close(ours, direct, rtol=1e-6, atol=1e-5)
    assert ours[3, 7] == 0 and torch.all(ours.diagonal() == 0)
