"""Build the model a config names."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf
from torch import nn

from topoexp.config.schema import BASELINES
from topoexp.losses.signature import SignatureLoss
from topoexp.models.autoencoders import Autoencoder, DeepAE, LinearAE, MLPAutoencoder
from topoexp.models.baselines import make_baseline
from topoexp.models.topoae import TopologicallyRegularizedAE


def is_baseline(model_cfg: DictConfig) -> bool:
    return model_cfg.name in BASELINES


def build_autoencoder(model_cfg: DictConfig, input_shape: tuple[int, ...]) -> Autoencoder:
    """The architecture of ``model.name`` for samples of ``input_shape``."""
    hidden = tuple(model_cfg.hidden)
    if model_cfg.name == "mlp":
        if len(input_shape) != 1:
            raise ValueError(f"model.name=mlp needs vector data, got input shape {input_shape}")
        return MLPAutoencoder(
            input_dim=input_shape[0], hidden=hidden, latent_dim=model_cfg.latent_dim
        )
    if model_cfg.name == "deep":
        return DeepAE(input_shape=input_shape, hidden=hidden, latent_dim=model_cfg.latent_dim)
    if model_cfg.name == "linear":
        return LinearAE(input_shape=input_shape, latent_dim=model_cfg.latent_dim)
    raise ValueError(f"unknown autoencoder model.name={model_cfg.name!r}")


def build_model(cfg: DictConfig, input_shape: tuple[int, ...]) -> nn.Module:
    """Autoencoder, wrapped with the topological loss when ``loss.name`` asks for one."""
    autoencoder = build_autoencoder(cfg.model, input_shape)
    if cfg.loss.name == "none":
        return autoencoder
    loss = cfg.loss
    signature = SignatureLoss(
        match_edges=loss.match_edges, half=loss.half, divide_by_batch=loss.divide_by_batch
    )
    return TopologicallyRegularizedAE(
        autoencoder,
        lam=loss.lam,
        signature=signature,
        data_norm=loss.data_norm,
        encode_twice=loss.encode_twice,
    )


def build_baseline(model_cfg: DictConfig, seed: int):
    params = OmegaConf.to_container(model_cfg, resolve=True)
    assert isinstance(params, dict)
    name = params.pop("name")
    # null values mean "the library's default" (e.g. t-SNE's learning_rate="auto")
    return make_baseline(name, {k: v for k, v in params.items() if v is not None}, seed)
