"""Shared fixtures: where the shared reference material and data sets live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

#: ``TOPOEXP_RECORD_MACHINE=1``: the byte-for-byte tests record this CPU's outputs (see
#: :func:`machine_reference`) instead of comparing them.
RECORD_MACHINE = os.environ.get("TOPOEXP_RECORD_MACHINE") == "1"


def cpu_signature() -> str:
    """A short digest of the CPU's vector-instruction flags (AVX, AVX-512, AMX, FMA, ...).

    Deterministic float32 computations agree bit for bit between machines of the same vector
    extensions, but not across them: the kernels torch dispatches to accumulate in another order
    (seen: a SPHERES PCA's ``metrics.json`` and the MST death-time gradients differ in the last
    bits between two x86 machines, one with AVX-512 FP16 and AMX). Machine-specific references
    are keyed by this digest.
    """
    import hashlib
    import re

    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    simd = sorted(f for f in flags if re.match(r"(avx|sse|ssse|fma|amx|f16c|asimd|sve)", f))
    return hashlib.sha256(" ".join(simd).encode()).hexdigest()[:12]


def machine_reference(path: Path) -> Path:
    """``path``'s variant recorded on a CPU of this machine's vector extensions, when there is
    one (``<dir>/machines/<cpu_signature>/<name>``), else ``path`` itself: the references
    recorded before the redesign, on the machine that compared before and after. Where
    :data:`RECORD_MACHINE` is set, the variant's path (to be written)."""
    variant = path.parent / "machines" / cpu_signature() / path.name
    if RECORD_MACHINE:
        variant.parent.mkdir(parents=True, exist_ok=True)
        return variant
    return variant if variant.is_file() else path


#: How far outputs of another CPU may lie from a reference recorded on a CPU of other vector
#: extensions (the largest gap measured between two such CPUs: 4.2e-4, ``test_machine_references``).
CROSS_CPU_RELATIVE = 1e-3


def unrecorded_cpu(path: Path) -> bool:
    """Whether ``path`` has no variant for this CPU (then the original is compared: exactly on
    the recording machine; on a CPU of other vector extensions the tests fall back to
    :data:`CROSS_CPU_RELATIVE` and warn, naming the signature to record)."""
    return not (path.parent / "machines" / cpu_signature() / path.name).is_file()


def warn_unrecorded(what: str, gap: float) -> None:
    """Say that ``what`` matched only within the cross-CPU tolerance on this CPU."""
    import warnings

    warnings.warn(
        f"{what}: not bit-identical on this CPU (signature {cpu_signature()}, no recording; "
        f"largest relative gap {gap:.2g} ≤ {CROSS_CPU_RELATIVE:g}); record its references with "
        "TOPOEXP_RECORD_MACHINE=1 to compare exactly here",
        stacklevel=2,
    )


def _shared_dir() -> Path:
    return Path(os.environ.get("TOPOEXP_SHARED", REPO_ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The folder of papers, specs, reference tables and data (``$TOPOEXP_SHARED``)."""
    path = _shared_dir()
    if not path.is_dir():
        pytest.skip(f"shared reference folder not found at {path}; set TOPOEXP_SHARED")
    return path


@pytest.fixture(scope="session")
def reference_dir(shared_dir: Path) -> Path:
    """The papers' tables and test vectors."""
    return shared_dir / "reference"


@pytest.fixture(scope="session")
def datasets_root(shared_dir: Path) -> Path:
    """MNIST and Fashion-MNIST in torchvision's layout: ``$TOPOEXP_DATA_DIR`` when it holds them,
    else the shared reference folder's ``datasets/``; the test is skipped when neither does."""
    candidates = [Path(os.environ["TOPOEXP_DATA_DIR"])] if "TOPOEXP_DATA_DIR" in os.environ else []
    for root in [*candidates, shared_dir / "datasets"]:
        if (root / "MNIST" / "raw").is_dir() and (root / "FashionMNIST" / "raw").is_dir():
            return root
    pytest.skip("MNIST / Fashion-MNIST raw files not found (TOPOEXP_DATA_DIR or the shared folder)")


CONF_DIR = REPO_ROOT / "conf"
#: Experiments that are shared protocol bases, not runs of their own, and the key preflight
#: refuses each on when run alone.
EXPERIMENT_BASES = {"corel/protocol": "dataset"}  # COREL needs images; the base selects no data

#: Overrides that shrink SPHERES and training so a whole run takes a second or two.
TINY = [
    "dataset.n_samples=20",
    "dataset.d=10",
    "trainer.max_epochs=3",
    "trainer.batch_size=16",
    "trainer.progress=false",
    "evaluator.k_min=2",
    "evaluator.k_max=10",
    "evaluator.k_step=2",
    "evaluator.plot=false",
    "logger=none",
]


def compose(overrides: list[str], output_dir: Path | None = None):
    """Compose the real config from ``conf/`` the way ``python -m topoexp`` does."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from topoexp.config.schema import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    extra = []
    if output_dir is not None:
        extra = [f"paths.output_dir={output_dir}", f"paths.root_dir={output_dir}"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose("config", overrides=[*overrides, *extra])
    GlobalHydra.instance().clear()
    return cfg


@pytest.fixture
def tiny_cfg(tmp_path: Path):
    """Factory: the tiny SPHERES config with extra overrides, writing into ``tmp_path``."""

    def make(*overrides: str, output_dir: Path | None = None):
        return compose([*TINY, *overrides], output_dir or tmp_path / "run")

    return make
