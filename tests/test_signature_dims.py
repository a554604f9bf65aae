"""The signature loss over dimensions 0 and 1 (``loss.signature.dims``)."""

from __future__ import annotations

import math

import pytest
import torch

from tests.conftest import compose
from topoexp.config.markers import ArgumentError
from topoexp.config.validate import ConfigError
from topoexp.losses.signature import SignatureLoss, cycle_pairs
from topoexp.run import preflight
from topoexp.topology import pairwise_distances

SQUARE = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])


def test_cycle_pairs_of_the_square():
    pairs = cycle_pairs(pairwise_distances(SQUARE))
    assert pairs.shape == (1, 2, 2)
    D = pairwise_distances(SQUARE)
    birth, death = pairs[0]
    assert float(D[birth[0], birth[1]]) == pytest.approx(2.0)  # a side
    assert float(D[death[0], death[1]]) == pytest.approx(2 * math.sqrt(2))  # a diagonal


def test_dimension_one_adds_the_cycle_term_by_hand():
    D_X = pairwise_distances(SQUARE)
    D_Z = D_X * 0.5  # every distance halved: the same pairs in both spaces
    loss0, m0 = SignatureLoss(divide_by_batch=False).terms(D_X, D_Z)
    loss01, m01 = SignatureLoss(divide_by_batch=False, dims=[0, 1]).terms(D_X, D_Z)
    # one H1 bar per space, born at a side (2 → 1) and killed by a diagonal (2√2 → √2)
    per_space = (2 - 1) ** 2 + (2 * math.sqrt(2) - math.sqrt(2)) ** 2
    assert float(m01["distance1_2_1d"]) == pytest.approx(per_space)
    assert float(m01["distance2_1_1d"]) == pytest.approx(per_space)
    assert float(loss01 - loss0) == pytest.approx(2 * per_space)
    assert "distance1_2_1d" not in m0
    same, _ = SignatureLoss(dims=[0, 1]).terms(D_X, D_X.clone())
    assert float(same) == 0.0


def test_dimension_one_gradient_flows_to_the_latent_distances():
    torch.manual_seed(0)
    x = torch.randn(12, 5)
    z = torch.randn(12, 2, requires_grad=True)
    D_X = pairwise_distances(x)
    loss, _ = SignatureLoss(dims=[0, 1]).terms(D_X, pairwise_distances(z))
    (grad,) = torch.autograd.grad(loss, z)
    loss0, _ = SignatureLoss().terms(D_X, pairwise_distances(z))
    (grad0,) = torch.autograd.grad(loss0, z)
    assert torch.isfinite(grad).all() and not torch.allclose(grad, grad0)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"dims": [1]}, "dims"),
        ({"dims": [0, 2]}, "dims"),
        ({"dims": [0, 1], "match_edges": "none"}, "dims"),
    ],
)
def test_invalid_dims(kwargs, argument):
    with pytest.raises(ArgumentError) as info:
        SignatureLoss(**kwargs)
    assert info.value.argument == argument


def test_dims_is_a_config_key(tmp_path):
    cfg = compose(["loss.signature.dims=[0,1]", "logger=none"], tmp_path / "run")
    preflight(cfg)
    with pytest.raises(ConfigError, match=r"loss\.signature\.dims"):
        preflight(compose(["loss.signature.dims=[0,3]", "logger=none"], tmp_path / "run"))
    default = compose(["logger=none"], tmp_path / "run")
    assert list(default.loss.signature.dims) == [0]
