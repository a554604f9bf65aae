"""The GAN task: the topology-layer paper's generator prior (its section 3.2, Figures 8–10).

One run is one stage, selected by ``task.stage``; every stage but the first continues from the
baseline's run directory (``task.init_from``):

- ``adversarial``: the vanilla GAN (``model=gan``: MLP generator and discriminator, BCE, Adam
  2e-4, (0.5, 0.999), images in [-1, 1]) for ``trainer.iterations`` steps of ``batch_size``
  (baseline: 32,000 × 64 from scratch; Figure 8e: 60,000 more from the baseline's generator,
  discriminator and optimiser states).
- ``topology``: the generator fine-tuned on the topology loss (``loss=topology_prior``,
  E(1, 0, 2; PD0) of each image's superlevel sets; 50 steps, Figure 8c). The paper updates the
  weights "to minimize the topology loss" alone: ``adversarial_weight=0`` (default); a positive
  weight adds the generator's adversarial loss and keeps training the baseline's discriminator.
- ``latent``: the generator frozen, each latent code optimised on the topology loss
  (``latent_steps`` of SGD, Figure 8b); no training step (``trainer.iterations=0``).
- ``pd_discriminator``: the generator trained against a fresh discriminator on PD0 features
  ``E(1,0,2) − E(1,0,k)`` (``loss=pd0_features``, k ∈ {3, 4, 5, 11}) of real and generated
  images (100 steps, Figure 8d).

Then the generator is scored as the paper's Figure 10 over ``computations`` draws (mean and
std): MMD / COV under L2 (``n_l2`` generated against as many random test images) and under the
1-Wasserstein distance of PD0 (``n_wass``), the classifier Inception score of the ``n_l2``
samples, the fraction of samples whose superlevel set ``{x > component_threshold}`` is
connected, the mean number of finite H0 bars longer than ``bar_epsilon`` and the mean topology
loss. Writes ``checkpoints/last.pt``, ``history.json``, ``samples.npz`` (the fixed-code grid and
the interpolations of Figure 9) and ``metrics.json``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
from annotated_types import Ge, Gt
from omegaconf import DictConfig
from torch import Tensor, nn

from topoexp import io
from topoexp.capabilities import GAN_STAGES, GENERATOR, declared, option_name, require_capabilities
from topoexp.config.build import build
from topoexp.config.validate import ConfigError, require
from topoexp.tasks.base import RunContext, TaskResult
from topoexp.tasks.composition import check_composition, check_objective_metric
from topoexp.training.engine import Engine
from topoexp.training.schedule import Iterations
from topoexp.training.steps import GradientStep

__all__ = ["GANTask", "optimise_codes"]

log = logging.getLogger("topoexp")

#: What the task reports (``*``: any suffix), for the sweep objective.
METRICS = (
    "computations",
    "cov_l2*",
    "cov_wass*",
    "eval_s",
    "h0_bars*",
    "inception*",
    "iter_s",
    "iterations",
    "mmd_l2*",
    "mmd_wass*",
    "one_component*",
    "topology_loss*",
    "train_s",
)

Stage = Literal["adversarial", "topology", "latent", "pd_discriminator"]
#: Seeds of the fixed latent codes every stage draws its figure grid and interpolations from.
GRID_SEED, INTERP_SEED = 1234, 4321
#: The ``loss`` entry each stage trains with (``None``: the GAN loss alone).
_LOSS_OF_STAGE = {
    "adversarial": None,
    "topology": "topology_prior",
    "latent": "topology_prior",
    "pd_discriminator": "pd0_features",
}
_LOSS_OPTION = {
    "adversarial": "none",
    "topology": "topology_prior",
    "latent": "topology_prior",
    "pd_discriminator": "pd0_features",
}


def optimise_codes(
    generator: nn.Module,
    prior: nn.Module,
    z: Tensor,
    steps: int,
    lr: float,
    optimizer: str = "sgd",
    batch_size: int = 64,
    chunk: int = 1024,
) -> Tensor:
    """Codes ``z`` moved by ``steps`` of SGD (or Adam) on the prior of ``generator(z)``, the
    generator frozen in eval mode. The loss of a chunk is the sum of its images' costs divided
    by ``batch_size``, so each code moves as it would in a batch of ``batch_size`` (the images
    do not interact in eval mode)."""
    was = generator.training
    generator.eval()
    for p in generator.parameters():
        p.requires_grad_(False)
    out = []
    try:
        for s in range(0, len(z), chunk):
            code = z[s : s + chunk].clone().requires_grad_(True)
            cls = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
            opt = cls([code], lr=lr)

            def objective(_: int, code: Tensor = code) -> tuple[Tensor, dict[str, float]]:
                return prior.per_image(generator(code)).sum() / batch_size, {}

            # each code's descent goes on as it always has, whatever its cost becomes
            step = GradientStep(objective, opt, {}, name="codes", check_finite=False)
            every = max(steps, 1)
            Engine(step, Iterations(steps, every, every)).fit()
            out.append(code.detach())
    finally:
        for p in generator.parameters():
            p.requires_grad_(True)
        generator.train(was)
    return torch.cat(out) if out else z


class GANTask:
    """One stage of the generator-prior experiments (module docstring).

    Args:
        stage: ``adversarial`` | ``topology`` | ``latent`` | ``pd_discriminator``.
        init_from: run directory whose ``checkpoints/last.pt`` (a completed ``adversarial``
            run) the stage starts from; ``null`` only for the baseline.
        adversarial_weight: ``topology`` stage: weight of the generator's adversarial loss
            beside the prior (0: the prior alone, as the paper describes).
        topology_weight: ``topology`` stage: weight of the prior.
        latent_steps, latent_lr, latent_optimizer: ``latent`` stage: steps, rate and optimiser
            (the paper: SGD) of each code's optimisation.
        feature_hidden: ``pd_discriminator`` stage: widths of the feature discriminator.
        computations: independent evaluations averaged (the paper: 5).
        n_l2: generated and real test images per L2 / Inception computation (1,000).
        n_wass: generated and real test images per Wasserstein computation (100).
        eval_seed: seed of the first computation (computation c uses ``eval_seed + c``).
        complex: triangulation of the evaluation's PD0 (the prior's own is ``loss.complex``).
        wass_internal_p: ground norm p of the diagram distance (``None``: ∞, the usual one).
        component_threshold: level of the superlevel set whose components are counted
            (0 on the [-1, 1] scale = 0.5 on [0, 1]).
        bar_epsilon: finite H0 bars longer than this are counted.
        grid_size: fixed-code samples kept for the figure grids.
        interpolations, interpolation_steps: code pairs and points per line of Figure 9.
        train_subset, test_subset: first images of a split only (smoke tests).
    """

    job_type = "gan"

    def __init__(
        self,
        stage: Stage = "adversarial",
        init_from: str | None = None,
        adversarial_weight: Annotated[float, Ge(0)] = 0.0,
        topology_weight: Annotated[float, Ge(0)] = 1.0,
        latent_steps: Annotated[int, Ge(0)] = 50,
        latent_lr: Annotated[float, Gt(0)] = 1.0,
        latent_optimizer: Literal["sgd", "adam"] = "sgd",
        feature_hidden: list[int] = [32, 32],  # noqa: B006 (config default)
        computations: Annotated[int, Ge(1)] = 5,
        n_l2: Annotated[int, Ge(2)] = 1000,
        n_wass: Annotated[int, Ge(2)] = 100,
        eval_seed: int = 0,
        complex: Literal["freudenthal", "grid", "delaunay"] = "delaunay",
        wass_internal_p: Annotated[float, Ge(1)] | None = None,
        component_threshold: float = 0.0,
        bar_epsilon: Annotated[float, Ge(0)] = 0.1,
        grid_size: Annotated[int, Ge(1)] = 64,
        interpolations: Annotated[int, Ge(0)] = 4,
        interpolation_steps: Annotated[int, Ge(2)] = 10,
        train_subset: Annotated[int, Ge(1)] | None = None,
        test_subset: Annotated[int, Ge(1)] | None = None,
    ) -> None:
        self.stage, self.init_from = stage, init_from
        self.adversarial_weight, self.topology_weight = adversarial_weight, topology_weight
        self.latent_steps, self.latent_lr = latent_steps, latent_lr
        self.latent_optimizer = latent_optimizer
        self.feature_hidden = list(feature_hidden)
        self.computations, self.n_l2, self.n_wass = computations, n_l2, n_wass
        self.eval_seed, self.complex, self.wass_internal_p = eval_seed, complex, wass_internal_p
        self.component_threshold, self.bar_epsilon = component_threshold, bar_epsilon
        self.grid_size = grid_size
        self.interpolations, self.interpolation_steps = interpolations, interpolation_steps
        self.train_subset, self.test_subset = train_subset, test_subset

    # ------------------------------------------------------------------------------- checks

    def check(self, cfg: DictConfig) -> None:
        check_objective_metric(cfg, METRICS, "task=gan")
        require(cfg.dataset.name == "mnist", "dataset", f"needs mnist, got {cfg.dataset.name!r}")
        require(
            cfg.dataset.get("transform") == "corel",
            "dataset.transform",
            "the task reads [0, 1] images and scales them to [-1, 1]: set "
            f"dataset.transform=corel, got {cfg.dataset.get('transform')!r}",
        )
        check_composition(cfg, "task=gan", needs={GENERATOR}, regularisers=None, latents=False)
        require_capabilities(
            {GAN_STAGES},
            declared(cfg.trainer, "offers"),
            "trainer",
            "task=gan (set trainer=gan)",
            option_name(cfg, "trainer"),
        )
        want = _LOSS_OF_STAGE[self.stage]
        have = sorted(cfg.loss or {})
        require(
            have == ([want] if want else []),
            "loss",
            f"stage {self.stage!r} needs loss={_LOSS_OPTION[self.stage]}, got loss={have}",
        )
        if self.stage == "latent":
            require(
                cfg.trainer.iterations == 0,
                "trainer.iterations",
                "the latent stage trains nothing (task.latent_steps optimise the codes): set 0",
            )
        if self.stage != "adversarial":
            require(
                self.init_from is not None,
                "task.init_from",
                f"stage {self.stage!r} starts from the baseline GAN: set task.init_from to its "
                "run directory (the one holding checkpoints/last.pt)",
            )
            build(cfg, f"loss.{want}")  # the prior's own checks

    def _baseline_checkpoint(self) -> Path:
        assert self.init_from is not None
        path = Path(self.init_from).expanduser() / "checkpoints" / "last.pt"
        if not path.is_file():
            raise ConfigError(
                "task.init_from", f"{path} does not exist: point it at a completed GAN run"
            )
        return path

    # ------------------------------------------------------------------------------- the run

    def __call__(self, ctx: RunContext) -> TaskResult:
        from topoexp.data.tensors import split_tensors
        from topoexp.training.gan_loop import load_checkpoint

        data = ctx.build("dataset", split_seed=ctx.seed)
        train_x, _ = split_tensors(data.fit)
        test_x, _ = split_tensors(data.test)
        if self.train_subset is not None:
            train_x = train_x[: self.train_subset]
        if self.test_subset is not None:
            test_x = test_x[: self.test_subset]
        train_x, test_x = train_x * 2 - 1, test_x * 2 - 1  # [-1, 1], the generator's range
        ctx.record.add_facts(data=data.name, split_sizes={"fit": len(train_x), "test": len(test_x)})
        trainer = ctx.build("trainer", seed=ctx.seed)
        gan = ctx.build("model").to(ctx.device)
        want = _LOSS_OF_STAGE[self.stage]
        prior = None if want is None else ctx.build(f"loss.{want}")
        payload = None
        if self.init_from is not None:
            path = self._baseline_checkpoint()
            payload = load_checkpoint(path, ctx.device)
            if not payload["loop"].get("finished"):
                raise ConfigError("task.init_from", f"{path} is not a completed run")
            gan.generator.load_state_dict(payload["modules"]["generator"])
            gan.discriminator.load_state_dict(payload["modules"]["discriminator"])
            ctx.record.add_facts(
                init_from=str(self.init_from), init_iterations=payload["loop"]["iteration"]
            )
        n_params = sum(p.numel() for p in gan.parameters())
        log.info("GAN: %s parameters, stage %s\n%s", f"{n_params:,}", self.stage, gan)
        ctx.record.add_facts(parameters=n_params, stage=self.stage)

        started = time.perf_counter()
        history = self._train(ctx, trainer, gan, prior, payload, train_x)
        train_s = time.perf_counter() - started
        gan.cpu()
        started = time.perf_counter()
        metrics, arrays = self._evaluate(ctx, gan, prior, test_x)
        metrics["eval_s"] = time.perf_counter() - started
        metrics["train_s"] = train_s
        metrics["iterations"] = float(history[-1]["iteration"]) if history else 0.0
        if history:
            metrics["iter_s"] = float(np.mean([r["time/iter_s"] for r in history]))
        io.write_npz(ctx.output_dir / "samples.npz", **arrays)
        return TaskResult(metrics, self._figures(ctx, arrays))

    # ------------------------------------------------------------------------------- training

    def _train(self, ctx, trainer, gan, prior, payload, train_x: Tensor) -> list[dict]:
        from topoexp.models.gan import FeatureDiscriminator
        from topoexp.training.gan_steps import FeatureGANStep, GeneratorStep

        g, d = gan.generator, gan.discriminator
        dev = ctx.device
        noise = torch.Generator().manual_seed(ctx.seed + 1)  # the latent codes of the steps

        def codes() -> Tensor:
            return torch.randn(trainer.batch_size, gan.latent_dim, generator=noise).to(dev)

        # the discriminator is always saved (unchanged when not trained), so any stage's
        # checkpoint can start another stage
        modules: dict[str, nn.Module] = {"generator": g, "discriminator": d}
        optimizers: dict[str, torch.optim.Optimizer] = {"generator": trainer.adam(g.parameters())}
        adversarial = self.stage == "adversarial" or (
            self.stage == "topology" and self.adversarial_weight > 0
        )
        if adversarial:
            optimizers["discriminator"] = trainer.adam(d.parameters())
        if self.stage == "adversarial" and payload is not None:  # continue the baseline's run
            for k, opt in optimizers.items():
                opt.load_state_dict(payload["optimizers"][k])
        if self.stage == "pd_discriminator":
            fd = FeatureDiscriminator(len(prior.ks), self.feature_hidden).to(dev)
            modules["feature_discriminator"] = fd
            optimizers["feature_discriminator"] = trainer.adam(fd.parameters())
        needs_data = adversarial or self.stage == "pd_discriminator"
        sampler = trainer.sampler(len(train_x)) if needs_data else None

        def real_batch() -> Tensor:
            return train_x[sampler.next()].to(dev)

        weight = None  # of the generator's adversarial loss; None: no discriminator is trained
        if adversarial:
            weight = 1.0 if self.stage == "adversarial" else self.adversarial_weight
        if self.stage == "pd_discriminator":
            step: Any = FeatureGANStep(g, fd, prior, optimizers, codes, real_batch)
        else:
            step = GeneratorStep(
                g, d, optimizers, codes, real_batch if adversarial else None, weight,
                prior=prior if self.stage == "topology" else None,
                topology_weight=self.topology_weight,
            )  # fmt: skip

        def on_record(record: dict[str, float], state) -> None:
            ctx.write_history(state.history)
            ctx.log_step(record)

        state = trainer.fit(
            modules,
            optimizers,
            sampler,
            step,
            ctx.output_dir / "checkpoints",
            on_record,
            generators={"codes": noise},
        )
        ctx.write_history(state.history)
        if self.stage == "latent":  # nothing trained: keep the baseline's state as this run's
            from topoexp.training.gan_loop import save_checkpoint

            save_checkpoint(ctx.output_dir / "checkpoints" / "last.pt", modules, {}, None, state)
        return state.history

    # ------------------------------------------------------------------------------- evaluation

    def _samples(self, gan, prior, z: Tensor) -> Tensor:
        if self.stage == "latent":
            z = optimise_codes(
                gan.generator, prior, z, self.latent_steps, self.latent_lr, self.latent_optimizer
            )
        return gan.decode(z)

    def _evaluate(self, ctx, gan, prior, test_x: Tensor) -> tuple[dict, dict[str, np.ndarray]]:
        from topoexp.evaluation.generator_prior import figure10_metrics
        from topoexp.models.classifier import load_classifier

        classifier = load_classifier("mnist")
        metrics = figure10_metrics(
            lambda n, gen: self._samples(gan, prior, gan.codes(n, gen)),
            test_x,
            classifier,
            computations=self.computations,
            n_l2=self.n_l2,
            n_wass=self.n_wass,
            seed=self.eval_seed,
            complex=self.complex,
            internal_p=float("inf") if self.wass_internal_p is None else self.wass_internal_p,
            threshold=self.component_threshold,
            eps=self.bar_epsilon,
        )
        grid = self._samples(gan, prior, gan.codes(self.grid_size, _gen(GRID_SEED)))
        arrays = {"grid": grid.numpy()}
        if self.interpolations:
            ends = gan.codes(2 * self.interpolations, _gen(INTERP_SEED))
            t = torch.linspace(0, 1, self.interpolation_steps)[None, :, None]
            a, b = ends[0::2, None], ends[1::2, None]
            lines = ((1 - t) * a + t * b).reshape(-1, gan.latent_dim)
            imgs = self._samples(gan, prior, lines)
            arrays["interpolation"] = imgs.reshape(
                self.interpolations, self.interpolation_steps, 28, 28
            ).numpy()
        return metrics, arrays

    def _figures(self, ctx: RunContext, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        from topoexp.plotting.grids import grid_figure

        grid = (arrays["grid"] + 1) / 2
        return {"samples": grid_figure(grid, f"{ctx.cfg.method}: {self.stage}")}


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
