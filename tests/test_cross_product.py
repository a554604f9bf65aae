"""The composition rule over the whole product of the config groups.

Every combination of task × data set × model × regularisers × further evaluators either trains
(one short epoch or a few iterations) and evaluates, or is refused before anything is trained with
a :class:`ConfigError` that names a config key. Nothing may fail inside training or after it.

The default run takes a fixed sample of the product; ``-m slow`` runs all of it. Each run prints
its outcome, and the tests print the counts of runnable and refused combinations.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from pathlib import Path

import pytest
from omegaconf import OmegaConf, open_dict

from tests.conftest import CONF_DIR, compose
from topoexp.config.validate import ConfigError
from topoexp.run import preflight, run

TASKS = [
    "embedding", "one_class", "generative", "gan", "attack", "optimise", "corel_toy",
    "regression_sweep",
]  # fmt: skip
#: Tasks that build no model, trainer or evaluator (their experiments set them to null).
MODEL_FREE = {"optimise": "loss", "corel_toy": "death_time.epsilon.epoch60",
              "regression_sweep": "error/top2"}  # fmt: skip
#: Data sets that need no downloaded files here (MNIST and Fashion-MNIST are faked).
DATASETS = ["spheres", "patterns", "mnist", "fmnist", "problem/points"]
#: What each task's experiments set besides (its trainer, its own evaluator, its objective).
TASK_SETTINGS = {
    "embedding": ["evaluator=nldr", "objective=kl_0.1"],
    "one_class": ["evaluator=one_class", "objective=auc_m4"],
    "generative": ["trainer=homreg", "evaluator=null", "objective=fid"],
    "gan": ["trainer=gan", "evaluator=null", "objective=mmd_l2"],
    "attack": ["trainer=null", "evaluator=null", "objective=attack_success_rate"],
    **{
        task: ["model=null", "trainer=null", "evaluator=null", f"objective={objective}"]
        for task, objective in MODEL_FREE.items()
    },
}
MODELS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
LOSSES = [
    *sorted(p.stem for p in (CONF_DIR / "loss").glob("*.yaml")),
    "[signature,connectivity]",
    "[connectivity,homological]",
]
EVALUATORS = ["none", "nldr", "one_class", "[nldr,one_class]", "generative"]

#: Values that shrink any run to a second or two, set wherever the key exists.
SHRINK = {
    "dataset.n_samples": 40,
    "dataset.d": 8,
    "dataset.n_per_class": 24,
    "dataset.n_test_per_class": 8,
    "dataset.verify_checksums": False,
    "trainer.max_epochs": 1,
    "trainer.patience": 1,
    "trainer.batch_size": 16,
    "trainer.progress": False,
    "trainer.num_threads": 1,
    "trainer.iterations": 2,
    "trainer.checkpoint_every": 1,
    "trainer.log_every": 1,
    "evaluator.k_min": 2,
    "evaluator.k_max": 6,
    "evaluator.k_step": 2,
    "evaluator.plot": False,
    "evaluator.m_values": [4],
    "evaluator.runs": 1,
    "evaluators.nldr.k_min": 2,
    "evaluators.nldr.k_max": 6,
    "evaluators.nldr.k_step": 2,
    "evaluators.nldr.plot": False,
    "evaluators.one_class.m_values": [4],
    "evaluators.one_class.runs": 1,
    "evaluators.generative.n_samples": 16,
    "evaluators.generative.latent_batch_size": 8,
    "task.death_time_batches": 2,
    "task.death_time_batch_size": 8,
    "task.n_samples": 40,
    "task.monitor_size": 16,
    "task.scatter_size": 16,
    "task.grid_size": 4,
    "task.train_subset": 80,
    "task.test_subset": 40,
    "task.epoch_media": False,
    "task.computations": 1,
    "task.n_l2": 8,
    "task.n_wass": 4,
    "task.interpolations": 1,
    "task.interpolation_steps": 2,
    "task.n_attack": 4,
    "task.steps": 2,
    "task.n_examples": 2,
    "task.fit_epochs": 1,
    "task.num_threads": 1,
    "model.generator_hidden": [8, 16],
    "model.discriminator_hidden": [8],
    "model.hidden": [8, 8],
    "model.hidden_dim": 8,
    "model.n_branches": 2,
    "model.branch_dim": 2,
    "model.filters": [4, 8, 8],
    "model.features.n_directions": 2,
    "model.features.max_power": 1,
}


def _combinations() -> list[tuple[str, str, str, str, str]]:
    return list(itertools.product(TASKS, DATASETS, MODELS, LOSSES, EVALUATORS))


#: The data sets each task's experiments use: the default sample draws from these pairs, so that
#: it holds runnable combinations as well as refused ones.
NATURAL_DATA = {
    "embedding": ["spheres", "mnist"],
    "one_class": ["patterns", "spheres", "mnist"],
    "generative": ["mnist"],
    "gan": ["mnist"],
    "attack": ["mnist"],
    "optimise": ["problem/points"],
    "corel_toy": [],  # its data (the three Gaussians) and the sweep's problems are no option of
    "regression_sweep": [],  # the data sets above: every combination is refused on `dataset`
}


def _natural_combinations() -> list[tuple[str, str, str, str, str]]:
    return [
        (task, data, model, loss, evaluators)
        for task, datasets in NATURAL_DATA.items()
        for data, model, loss, evaluators in itertools.product(datasets, MODELS, LOSSES, EVALUATORS)
    ]


class _Composer:
    """Composes the real config from ``conf/`` as ``python -m topoexp`` does, initialising Hydra
    once for the whole product (``tests.conftest.compose`` initialises it per call)."""

    def __enter__(self):
        from hydra import initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra

        from topoexp.config.schema import register_configs

        register_configs()
        GlobalHydra.instance().clear()
        self._context = initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3")
        self._context.__enter__()
        return self

    def __call__(self, overrides: list[str], out: Path):
        from hydra import compose as hydra_compose

        return hydra_compose(
            "config", overrides=[*overrides, f"paths.output_dir={out}", f"paths.root_dir={out}"]
        )

    def __exit__(self, *exc) -> None:
        from hydra.core.global_hydra import GlobalHydra

        self._context.__exit__(*exc)
        GlobalHydra.instance().clear()


def _shrunk(cfg, root: Path):
    with open_dict(cfg):
        for key, value in SHRINK.items():
            if OmegaConf.select(cfg, key, default=None) is not None:
                OmegaConf.update(cfg, key, value, merge=False)
        if OmegaConf.select(cfg, "task.feature_cache", default=None) is not None:
            cfg.task.feature_cache = str(root / "cache")
        for key in ("task.classifier_dir", "evaluators.generative.classifier_dir"):
            if OmegaConf.select(cfg, key, default="absent") is None:
                OmegaConf.update(cfg, key, str(root / "assets"), merge=False)
    return cfg


def outcome(combination: tuple[str, ...], root: Path, out: Path, compose=compose) -> str:
    """``runnable``, ``refused: <key>``, or raises: a failure is never swallowed."""
    task, dataset, model, loss, evaluators = combination
    overrides = [
        f"task={task}", f"dataset={dataset}", f"model={model}", f"loss={loss}",
        f"evaluators={evaluators}", "logger=none", f"paths.data_dir={root / 'data'}",
    ]  # fmt: skip
    generative = task in ("generative", "gan", "attack") or evaluators == "generative"
    if dataset in ("mnist", "fmnist") and generative:  # 28 × 28 images in [0, 1]
        overrides.append("dataset.transform=corel")
    if model == "corel" and dataset in ("mnist", "fmnist"):
        overrides.append("dataset.transform=corel32")
    overrides += TASK_SETTINGS[task]
    if task in MODEL_FREE:
        overrides.remove(f"model={model}")
    nulled = [o.split("=")[0] for o in overrides if o.endswith("=null")]
    overrides = [o for o in overrides if not o.endswith("=null")]
    try:
        cfg = compose(overrides, out)
        with open_dict(cfg):
            for key in nulled:
                cfg[key] = None
        cfg = _shrunk(cfg, root)
        preflight(cfg)
    except ConfigError as error:
        return f"refused: {error.key}"
    try:
        run(cfg)
    except ConfigError as error:  # a check against the loaded data: before any training
        status = json.loads((out / "status.json").read_text())
        assert not (out / "checkpoints" / "last.pt").exists(), (combination, error)
        assert status["status"] == "failed"
        return f"refused after loading the data: {error.key}"
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "completed", combination
    assert (out / "metrics.json").is_file()
    return "runnable"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    from tests.test_homreg_task import write_fake_mnist, write_stand_in_classifier

    base = tmp_path_factory.mktemp("cross")
    write_fake_mnist(base / "data")
    fmnist = base / "data" / "FashionMNIST"
    fmnist.mkdir()
    (fmnist / "raw").symlink_to(base / "data" / "MNIST" / "raw")
    write_stand_in_classifier(base / "assets")
    return base


def _check(combinations, root: Path, tmp_path: Path) -> Counter:
    counts: Counter = Counter()
    with _Composer() as composer:
        for k, combination in enumerate(combinations):
            result = outcome(combination, root, tmp_path / f"run{k}", composer)
            print(" × ".join(combination), "→", result)
            counts["runnable" if result == "runnable" else "refused"] += 1
    print(f"{counts['runnable']} runnable, {counts['refused']} refused of {len(combinations)}")
    return counts


#: A fixed sample of the product for the default test run: every task, data set, model, loss and
#: evaluator choice occurs, runnable combinations included.
SAMPLE_SIZE = 80


def test_a_sample_of_the_product_runs_or_is_refused_in_preflight(root, tmp_path):
    sample = random.Random(0).sample(_natural_combinations(), SAMPLE_SIZE)
    sample += random.Random(1).sample(_combinations(), 10)
    counts = _check(sample, root, tmp_path)
    assert counts["runnable"] >= 3 and counts["refused"] >= 30


#: The issue's combinations and the README's composed examples, with what must happen.
KNOWN = [
    (("embedding", "spheres", "corel", "signature", "none"), "refused: dataset"),
    (("embedding", "spheres", "gen_ae", "none", "none"), "refused: dataset"),
    (("embedding", "spheres", "vae", "none", "none"), "refused: dataset"),
    (("embedding", "patterns", "vae", "homological", "none"), "runnable"),
    (("one_class", "spheres", "mlp", "signature", "none"), "runnable"),
    (("embedding", "spheres", "mlp", "barcode", "none"), "refused: loss.barcode"),
    (("embedding", "spheres", "mlp", "[signature,latent_barcode]", "none"), "runnable"),
    (("embedding", "spheres", "mlp", "homological", "none"), "runnable"),
    (("embedding", "spheres", "pca", "signature", "none"), "refused: loss.signature"),
    (("embedding", "mnist", "deep", "[signature,connectivity]", "one_class"), "runnable"),
    (("embedding", "mnist", "corel", "connectivity", "none"), "runnable"),
    (("one_class", "mnist", "deep", "signature", "nldr"), "runnable"),
    (("one_class", "mnist", "tsne", "none", "none"), "refused: model"),
    (("embedding", "mnist", "tsne", "none", "one_class"), "refused: evaluators.one_class"),
    (("generative", "mnist", "gen_ae", "[homological,signature]", "none"), "runnable"),
    (("generative", "mnist", "mlp", "none", "none"), "refused: model"),
    (("gan", "mnist", "gan", "none", "nldr"), "refused: evaluators.nldr"),
    (("optimise", "problem/points", "mlp", "barcode", "nldr"), "refused: evaluators"),
    (("optimise", "problem/points", "mlp", "[barcode,norm]", "none"), "runnable"),
    (("optimise", "problem/points", "mlp", "signature", "none"), "refused: loss.signature"),
    (("embedding", "mnist", "gen_ae", "homological", "generative"), "runnable"),
    (("one_class", "mnist", "vae", "none", "generative"), "runnable"),
    (("embedding", "mnist", "deep", "none", "generative"), "refused: evaluators.generative"),
    (("generative", "mnist", "gen_ae", "none", "generative"), "refused: evaluators.generative"),
    (("embedding", "problem/points", "deep", "ball", "none"), "refused: dataset"),
    (("one_class", "problem/points", "pca", "none", "none"), "refused: dataset"),
    (("corel_toy", "spheres", "mlp", "connectivity", "none"), "refused: dataset"),
    (("regression_sweep", "problem/points", "mlp", "none", "none"), "refused: dataset"),
]


@pytest.mark.parametrize(("combination", "expected"), KNOWN, ids=[" ".join(c) for c, _ in KNOWN])
def test_known_combinations_run_or_are_refused_naming_the_key(
    combination, expected, root, tmp_path
):
    with _Composer() as composer:
        assert outcome(combination, root, tmp_path / "run", composer) == expected


@pytest.mark.slow
def test_the_whole_product_runs_or_is_refused_in_preflight(root, tmp_path):
    counts = _check(_combinations(), root, tmp_path)
    assert counts["runnable"] > 0
