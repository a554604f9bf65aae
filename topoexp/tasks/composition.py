"""The composition rule, checked and built the same way by every task.

A run is ``dataset`` + ``model`` + objective (the model's own term plus the regularisers of the
``loss`` group) + ``trainer`` + ``evaluator``. Preflight (:func:`check_composition`) compares the
capabilities the components declare (:mod:`topoexp.capabilities`) before any data are built:

- the task's needs against the model's offers (``task=generative`` needs a prior);
- the data set: samples (vectors or images), not an optimised problem (``task=optimise``'s);
- the model's ``needs_data`` against the data set's offers (COREL's convolutions need images);
- each regulariser's needs against the model's offers (a regulariser needs a trained encoder);
- the evaluator's needs against what the task produces (latents, samples), and each further
  evaluator's own checks against the run (:func:`check_evaluator`).

:func:`build_objective` then builds the model's :class:`~topoexp.losses.objective.Objective`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig

from topoexp.capabilities import (
    IMAGES,
    VECTORS,
    data_offers,
    declared,
    model_offers,
    option_name,
    require_capabilities,
)
from topoexp.config.build import build
from topoexp.config.validate import ConfigError, require

__all__ = [
    "build_evaluators",
    "build_objective",
    "check_composition",
    "check_evaluator",
    "check_objective_metric",
    "check_self_contained",
    "evaluator_keys",
    "further_metric_names",
    "regulariser_keys",
]


def regulariser_keys(cfg: DictConfig) -> list[str]:
    """The config keys of the selected regularisers (``loss.signature``, ...), in order."""
    loss = cfg.get("loss")
    if not isinstance(loss, DictConfig):
        return []
    return [f"loss.{name}" for name, node in loss.items_ex(resolve=False) if node is not None]


def _node(cfg: DictConfig, key: str) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.select(cfg, key)


def check_composition(
    cfg: DictConfig,
    task: str,
    needs: Iterable[str] = (),
    needs_any: Iterable[str] = (),
    regularisers: bool | None = True,
    latents: bool = True,
) -> frozenset[str]:
    """Check the model, data, regularisers and further evaluators against each other and the
    task's ``needs`` (every one) and ``needs_any`` (at least one); return the model's offers.
    ``regularisers``/``latents``: whether the task trains a model a regulariser acts on (``None``:
    the task checks its ``loss`` entries itself), and makes latents the ``evaluators`` group could
    score."""
    if cfg.get("dataset") is not None:  # samples to fit and evaluate, not an optimised problem
        samples = data_offers(cfg.dataset) & {VECTORS, IMAGES}
        require(
            bool(samples),
            "dataset",
            f"{task} fits and evaluates a data set of vectors or images; "
            f"{option_name(cfg, 'dataset')} offers: "
            f"{', '.join(sorted(data_offers(cfg.dataset))) or 'nothing'}",
        )
    model = cfg.get("model")
    offered = model_offers(model)
    model_name = option_name(cfg, "model")
    require_capabilities(needs, offered, "model", task, model_name)
    any_of = set(needs_any)
    if any_of and not any_of & offered:
        choices = " or ".join(f"'{c}'" for c in sorted(any_of))
        raise ConfigError(
            "model",
            f"{task} needs a model that offers {choices}; {model_name} offers: "
            f"{', '.join(sorted(offered)) or 'nothing'}",
        )
    data_needs = declared(model, "needs_data")
    if data_needs and cfg.get("dataset") is not None:
        require_capabilities(
            data_needs,
            data_offers(cfg.dataset),
            "dataset",
            model_name,
            option_name(cfg, "dataset"),
        )
    for key in regulariser_keys(cfg) if regularisers is not None else []:
        if not regularisers:
            raise ConfigError(key, f"{task} trains no model that a regulariser could act on")
        _require_regulariser(_node(cfg, key), key, task)
        needs_reg = declared(_node(cfg, key), "needs")
        require_capabilities(needs_reg, offered, key, key, model_name)
    for key in evaluator_keys(cfg):
        if not latents:
            raise ConfigError(key, f"{task} makes no latents for further evaluators to score")
        require_capabilities(declared(_node(cfg, key), "needs"), offered, key, key, model_name)
        check_evaluator(cfg, key)
    return offered


def check_evaluator(cfg: DictConfig, key: str) -> None:
    """The entry's own checks against the rest of the run (``check(cfg, key)``, when it has one:
    e.g. a metric classifier for the data set); its constructor's errors name ``key.<arg>``."""
    evaluator = build(cfg, key)
    if hasattr(evaluator, "check"):
        evaluator.check(cfg, key)


def _require_regulariser(node: Any, key: str, task: str) -> None:
    from hydra.utils import get_object

    from topoexp.losses.objective import Regulariser

    if not isinstance(node, DictConfig) or "_target_" not in node:
        raise ConfigError(key, "expected a regulariser component with a _target_")
    target = get_object(str(node._target_))
    if not (isinstance(target, type) and issubclass(target, Regulariser)):
        raise ConfigError(
            key,
            f"{node._target_} is not a regulariser of a model's objective, so {task} cannot "
            "train with it (the optimise task's penalties act on a problem's parameters; on a "
            "model's latents use loss=latent_barcode)",
        )


def evaluator_keys(cfg: DictConfig) -> list[str]:
    """The config keys of the further evaluators (``evaluators.one_class``, ...)."""
    node = cfg.get("evaluators")
    if not isinstance(node, DictConfig):
        return []
    return [f"evaluators.{name}" for name, child in node.items_ex(resolve=False) if child]


def further_metric_names(cfg: DictConfig, own: Iterable[str] = ()) -> list[str]:
    """What the ``evaluators`` group's entries report; an entry reporting a metric the task's own
    ``evaluator`` (``own``) or an earlier entry reports is refused, naming it."""
    seen = {n for n in own if not n.endswith("*")}
    names: list[str] = []
    for key in evaluator_keys(cfg):
        mine = build(cfg, key).metric_names()
        clash = sorted(seen & {n for n in mine if not n.endswith("*")})
        if clash:
            raise ConfigError(key, f"reports metrics the run already reports: {clash}")
        seen |= set(mine)
        names += mine
    return names


def build_evaluators(cfg: DictConfig) -> dict[str, Any]:
    """The further evaluators, by name."""
    return {key.split(".", 1)[1]: build(cfg, key) for key in evaluator_keys(cfg)}


def check_objective_metric(cfg: DictConfig, produced: Iterable[str], task: str) -> None:
    """The sweep objective must be a metric this run produces (exact names or ``prefix*``)."""
    objective = cfg.get("objective")
    if objective is None:
        return
    names = list(produced)
    exact = {n for n in names if not n.endswith("*")}
    prefixes = [n[:-1] for n in names if n.endswith("*")]
    if objective in exact or any(str(objective).startswith(p) for p in prefixes):
        return
    shown = ", ".join(sorted(names)[:24])
    raise ConfigError(
        "objective",
        f"{objective!r} is not a metric of {task} with these evaluators; it reports: {shown}",
    )


def check_self_contained(cfg: DictConfig, task: str, dataset: type, needs: str, own: str) -> None:
    """A task that builds its own model and fit (``task=corel_toy``, ``task=regression_sweep``):
    its ``dataset`` must build a ``dataset`` instance (``needs`` says which option), and
    ``model``, ``trainer``, ``evaluator`` and ``evaluators`` must be unset (``own`` names the
    task's keys that replace them)."""
    from hydra.utils import get_object

    data = cfg.get("dataset")
    target = get_object(str(data._target_)) if isinstance(data, DictConfig) else None
    name = data.get("name") if isinstance(data, DictConfig) else data
    require(
        isinstance(target, type) and issubclass(target, dataset),
        "dataset",
        f"{task} {needs}, got {name!r}",
    )
    for key in ("model", "trainer", "evaluator"):
        require(cfg.get(key) is None, key, f"unused by {task} ({own}): set it to null")
    require(
        not cfg.get("evaluators"),
        "evaluators",
        f"{task} makes no latents for further evaluators to score: evaluators=none",
    )


def build_objective(cfg: DictConfig, model: Any) -> Any:
    """The trained module: ``model`` with the regularisers of the ``loss`` group."""
    from topoexp.losses.objective import Objective

    regularisers = {key.split(".", 1)[1]: build(cfg, key) for key in regulariser_keys(cfg)}
    return Objective(model, regularisers)
