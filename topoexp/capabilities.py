"""What a component offers and what it needs: the composition rule's vocabulary.

A run is data + model + objective (the model's own reconstruction term plus weighted
regularisers) + trainer + evaluators, selected by a task. Which combinations make sense is declared
once, next to each class, as sets of capability names:

- a model class declares ``offers`` (e.g. ``{"trainable", "encoder", "decoder", "branches"}``) and
  ``needs_data`` (e.g. ``{"images"}`` for a convolutional model);
- a data loader declares ``offers`` through :func:`data_offers` (``vectors`` or ``images``, and
  ``unit_interval`` when the values lie in [0, 1]);
- a regulariser, an evaluator and a task declare ``needs`` (what they read from the model).

:func:`require_capabilities` compares them in preflight, before any data are built, and fails with
one message naming both keys and what is missing. Reading a capability imports the class, never
builds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # omegaconf is imported where it is used: the layers import this module too
    from omegaconf import DictConfig

__all__ = [
    "BRANCHES",
    "CAPABILITIES",
    "CLASSIFIER",
    "DECODER",
    "ENCODER",
    "ESTIMATOR",
    "GAN_STAGES",
    "GENERATOR",
    "IMAGES",
    "PENALTY",
    "PRIOR",
    "PROBLEM",
    "TRAINABLE",
    "UNIT_INTERVAL",
    "VECTORS",
    "data_offers",
    "declared",
    "model_offers",
    "offers",
    "option_name",
    "require_capabilities",
]

#: A torch module trained by the trainer on its objective (reconstruction + regularisers).
TRAINABLE = "trainable"
#: ``encode(x) -> (B, d)`` latents of any batch of its input data (torch models and scikit-learn
#: estimators with ``transform``).
ENCODER = "encoder"
#: ``decode(z)`` back to the input shape.
DECODER = "decoder"
#: latents made of independent branches, ``n_branches`` and ``branches(z)`` (COREL).
BRANCHES = "branches"
#: a prior to sample latents from and ``generate(n)`` decoded samples (generative AEs, VAE).
PRIOR = "prior"
#: ``generate(n)`` images from codes (a GAN's generator).
GENERATOR = "generator"
#: class logits of images (the attack targets).
CLASSIFIER = "classifier"
#: fitted by ``fit``/``fit_transform`` rather than trained by the trainer (scikit-learn baselines).
ESTIMATOR = "estimator"
#: an optimised problem of task=optimise: ``initial()`` parameters and their ``data_loss``.
PROBLEM = "problem"
#: a penalty on an optimised problem's parameters (task=optimise), not a model regulariser.
PENALTY = "penalty"
#: a trainer of a GAN's stages (generator and critic updates, the latent-code descent).
GAN_STAGES = "gan_stages"
#: data: flat feature vectors ``(D,)``.
VECTORS = "vectors"
#: data: images ``(C, H, W)``.
IMAGES = "images"
#: data: values in [0, 1] (what a Bernoulli decoder models).
UNIT_INTERVAL = "unit_interval"

CAPABILITIES = {
    TRAINABLE: "is trained by the trainer",
    ENCODER: "encodes inputs to latents",
    DECODER: "decodes latents",
    BRANCHES: "has branched latents",
    PRIOR: "has a prior to sample from",
    GENERATOR: "generates images",
    CLASSIFIER: "classifies images",
    ESTIMATOR: "is a fitted estimator",
    PROBLEM: "is an optimised problem (initial parameters and a data loss)",
    PENALTY: "is a penalty on optimised parameters",
    GAN_STAGES: "trains a GAN's stages",
    VECTORS: "holds feature vectors",
    IMAGES: "holds images (C, H, W)",
    UNIT_INTERVAL: "holds values in [0, 1]",
}


def _target(node: Any) -> Any:
    from hydra.utils import get_object

    return get_object(str(node._target_))


def declared(node: Any, attribute: str) -> frozenset[str]:
    """The capability set ``attribute`` (``offers``, ``needs``, ``needs_data``) of a config node's
    target class; a callable attribute is called with the node (capabilities that depend on
    settings, e.g. a data set's transform)."""
    from omegaconf import DictConfig

    if node is None or not isinstance(node, DictConfig) or "_target_" not in node:
        return frozenset()
    value = getattr(_target(node), attribute, frozenset())
    if callable(value) and not isinstance(value, frozenset | set):
        value = value(node)
    return frozenset(value)


def model_offers(node: Any) -> frozenset[str]:
    """What the ``model`` config node's class offers (empty for ``model: null``)."""
    return declared(node, "offers")


def data_offers(node: Any) -> frozenset[str]:
    """What the ``dataset`` config node's loader offers (see :func:`offers`)."""
    return declared(node, "offers")


def option_name(cfg: DictConfig, group: str) -> str:
    """How the user selected ``group`` (``model=corel``), for messages; the target otherwise."""
    from omegaconf import DictConfig

    node = cfg.get(group) if "." not in group else None
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            choice = HydraConfig.get().runtime.choices.get(group)
            if choice and _describes(group, str(choice), node):
                return f"{group}={choice}"
    except Exception:  # outside a Hydra app (tests compose without one)
        pass
    if isinstance(node, DictConfig):
        target = str(node.get("_target_", "?"))
        name = node.get("name") or _option_of(group, target) or target.rpartition(".")[2]
        return f"{group}={name}"
    return group


def _describes(group: str, choice: str, node: Any) -> bool:
    """Whether Hydra's recorded ``group`` choice is the one that built ``node`` (a config
    composed after another app's run keeps that run's choices in Hydra's global state)."""
    from omegaconf import DictConfig

    if not isinstance(node, DictConfig) or "_target_" not in node:
        return True
    from topoexp.config.schema import CONF_DIR

    path = CONF_DIR / group / f"{choice}.yaml"
    return not path.is_file() or f"/{node['_target_']}@" in path.read_text()


def _option_of(group: str, target: str) -> str | None:
    """The option of ``conf/<group>/`` whose schema is ``target`` (the first, alphabetically)."""
    from topoexp.config.schema import CONF_DIR

    for path in sorted((CONF_DIR / group).glob("*.yaml")):
        if f"/{target}@" in path.read_text():
            return path.stem
    return None


def require_capabilities(
    needs: Iterable[str], offered: Iterable[str], key: str, consumer: str, provider: str
) -> None:
    """Raise a :class:`~topoexp.config.validate.ConfigError` for config ``key`` when ``provider``
    does not offer every capability in ``needs`` of ``consumer``; both are named as the user
    selected them (``loss.connectivity``, ``model=pca``)."""
    from topoexp.config.validate import ConfigError

    missing = sorted(set(needs) - set(offered))
    if not missing:
        return
    wanted = ", ".join(f"'{m}' ({CAPABILITIES.get(m, m)})" for m in missing)
    has = ", ".join(sorted(offered)) or "nothing"
    raise ConfigError(
        key, f"{consumer} needs {wanted}, which {provider} does not offer (it offers: {has})"
    )


def offers(*capabilities: str | Callable[[DictConfig], Iterable[str]]) -> Callable:
    """Decorator for data loader functions: ``@offers("vectors")``, or a function of the config
    node for capabilities that depend on settings."""

    def mark(fn: Callable) -> Callable:
        if len(capabilities) == 1 and callable(capabilities[0]):
            fn.offers = capabilities[0]  # type: ignore[attr-defined]
        else:
            fn.offers = frozenset(capabilities)  # type: ignore[attr-defined]
        return fn

    return mark
