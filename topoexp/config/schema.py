"""Structured-config schemas: every key, its type and its default.

Hydra merges each YAML file of ``conf/`` onto the schema its ``defaults`` names, so an unknown key
or a value of the wrong type fails at composition time with the full key in the message. Constraints
between values (λ ≥ 0, batch size ≥ 2 with a topological loss, ...) are checked by
:func:`topoexp.config.validate.validate` before anything is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

# --------------------------------------------------------------------------------------- dataset


@dataclass
class SpheresConf:
    """SPHERES (spec §1.1): ten small d-spheres inside a large one."""

    name: str = "spheres"
    n_samples: int = 500
    d: int = 100
    n_spheres: int = 11
    r: float = 5.0
    data_seed: int = 42
    test_fraction: float = 0.1
    val_fraction: float = 0.15


@dataclass
class ImageDatasetConf:
    """A torchvision image data set with its official test split (spec §1.2)."""

    name: str = MISSING
    root: str = "${paths.data_dir}"
    val_fraction: float = 0.15
    transform: str = "topoae"
    pooled_test_fraction: float | None = None  # pool official splits and re-split (the study)
    pool_seed: int = 42


# ----------------------------------------------------------------------------------------- model


@dataclass
class AutoencoderConf:
    """An autoencoder; ``name`` selects the architecture (spec §2.1)."""

    name: str = MISSING  # mlp | deep | linear
    latent_dim: int = 2
    hidden: list[int] = field(default_factory=list)
    batchnorm: str = "before_relu"  # mlp only: before_relu (TopoAE) | after_relu (the study)


@dataclass
class PCAConf:
    name: str = "pca"
    n_components: int = 2


@dataclass
class TSNEConf:
    name: str = "tsne"
    n_components: int = 2
    perplexity: float = 30.0
    learning_rate: float | None = None  # None: scikit-learn's "auto"
    max_iter: int = 1500
    init: str = "random"
    lr_convention: str = "bhtsne"  # learning_rate as MulticoreTSNE/bhtsne read it (4× sklearn's)
    implementation: str = "opentsne"  # opentsne | sklearn (Barnes–Hut); see topoexp.models.tsne
    negative_gradient_method: str = "auto"  # openTSNE: auto (bh < 10,000 points ≤ fft) | bh | fft
    n_jobs: int = 2


@dataclass
class UMAPConf:
    name: str = "umap"
    n_components: int = 2
    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "euclidean"


@dataclass
class IsomapConf:
    name: str = "isomap"
    n_components: int = 2
    n_neighbors: int = 5
    n_jobs: int = 2


# ------------------------------------------------------------------------------------------ loss


@dataclass
class NoLossConf:
    """Plain reconstruction objective (the vanilla autoencoder)."""

    name: str = "none"


@dataclass
class SignatureLossConf:
    """TopoAE's topological signature loss (spec §2.3).

    ``match_edges``: symmetric (the paper's), none or random. ``half``: the paper's ½ factor per
    direction (the code has none). ``data_norm``: auto (the code), batch_max, image_max or none.
    ``encode_twice``: the code's double encoder pass per step (QUIRK, batch-norm statistics update
    twice).
    """

    name: str = "signature"
    lam: float = 1.0
    match_edges: str = "symmetric"
    half: bool = False
    divide_by_batch: bool = True
    data_norm: str = "auto"
    encode_twice: bool = True


# --------------------------------------------------------------------------------------- trainer


@dataclass
class TrainerConf:
    """Optimisation and early stopping (spec §2.5).

    ``fit_on``: ``fit`` trains on train + validation, as the original code did (QUIRK, spec §1.3);
    ``train`` trains on the training part only, as the paper describes.
    """

    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-5
    max_epochs: int = 100
    patience: int = 10
    fit_on: str = "fit"
    device: str = "cpu"
    num_threads: int = 0
    deterministic: bool = True
    resume: bool = False
    progress: bool = True
    reload_best: bool = True


# ------------------------------------------------------------------------------------- evaluator


@dataclass
class DiagramEvalConf:
    """Distances between the Vietoris–Rips diagrams of data and latents (the reproduction study).

    ``normalisations``: raw, maxnorm (÷ each cloud's largest distance), pXX (÷ its XX-th
    percentile distance). ``essential``: drop (essential bars removed, count difference reported),
    cap (death set to the cloud's diameter) or error. ``subsample_size`` None: the whole split.
    """

    enabled: bool = False
    dims: list[int] = field(default_factory=lambda: [0, 1])
    distances: list[str] = field(
        default_factory=lambda: ["bottleneck", "wasserstein1", "wasserstein2", "sliced_wasserstein"]
    )
    normalisations: list[str] = field(default_factory=lambda: ["raw", "maxnorm", "p50"])
    n_directions: int = 50
    subsample_size: int | None = None
    n_subsamples: int = 1
    seed: int = 0
    essential: str = "drop"
    plot: bool = True


@dataclass
class EvaluatorConf:
    """Which split is embedded and which measures are computed (spec §3).

    ``data_mse``: ``last_epoch`` reproduces the original table (test MSE logged at the last epoch
    run, last partial batch dropped, QUIRK); ``best`` is the MSE of the reloaded best model.
    """

    split: str = "test"
    k_min: int = 10
    k_max: int = 200
    k_step: int = 10
    sigmas: list[float] = field(default_factory=lambda: [0.001, 0.01, 0.1, 1.0, 10.0])
    data_mse: str = "last_epoch"
    plot: bool = True
    diagrams: DiagramEvalConf = field(default_factory=DiagramEvalConf)


# ---------------------------------------------------------------------------------- logger/paths


@dataclass
class LoggerConf:
    """W&B sink. ``mode``: auto (online with an API key, else offline), online, offline."""

    name: str = "wandb"
    project: str = "topoexp"
    entity: str | None = None
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    mode: str = "auto"


@dataclass
class PathsConf:
    root_dir: str = MISSING
    data_dir: str = MISSING
    output_dir: str = MISSING
    results_dir: str = MISSING


# ----------------------------------------------------------------------------------------- root


@dataclass
class Config:
    """The root config. ``method`` is the row label used in tables and W&B."""

    dataset: Any = MISSING
    model: Any = MISSING
    loss: Any = MISSING
    trainer: TrainerConf = field(default_factory=TrainerConf)
    evaluator: EvaluatorConf = field(default_factory=EvaluatorConf)
    logger: LoggerConf = field(default_factory=LoggerConf)
    paths: PathsConf = field(default_factory=PathsConf)
    method: str = MISSING
    seed: int = 249040430
    objective: str = "kl_0.1"
    failure_score: float = 20.0


SCHEMAS: dict[str, dict[str, type]] = {
    "dataset": {"spheres_schema": SpheresConf, "image_schema": ImageDatasetConf},
    "model": {
        "autoencoder_schema": AutoencoderConf,
        "pca_schema": PCAConf,
        "tsne_schema": TSNEConf,
        "umap_schema": UMAPConf,
        "isomap_schema": IsomapConf,
    },
    "loss": {"none_schema": NoLossConf, "signature_schema": SignatureLossConf},
    "trainer": {"trainer_schema": TrainerConf},
    "evaluator": {"evaluator_schema": EvaluatorConf},
    "logger": {"logger_schema": LoggerConf},
    "paths": {"paths_schema": PathsConf},
}

BASELINES = ("pca", "tsne", "umap", "isomap")
AUTOENCODERS = ("mlp", "deep", "linear")


def register_configs() -> None:
    """Register the root schema and one schema per group option in Hydra's ConfigStore."""
    cs = ConfigStore.instance()
    cs.store(name="topoexp_schema", node=Config)
    for group, nodes in SCHEMAS.items():
        for name, node in nodes.items():
            cs.store(group=group, name=name, node=node)
