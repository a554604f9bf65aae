"""Schemas from signatures: read from source, typed, build-time arguments left out."""

from __future__ import annotations

import subprocess
import sys

import pytest
from omegaconf import MISSING, OmegaConf

from tests.conftest import REPO_ROOT
from topoexp.config.schema import config_targets, schema_for
from topoexp.config.signatures import _from_source, _source_file

MODULE = """
from typing import Annotated, Literal
from collections.abc import Sequence
from annotated_types import Ge
from topoexp.config.markers import BUILD_ARG
from topoexp.models.autoencoders import InputShape

Rate = Annotated[float, Ge(0)]

class Example:
    def __init__(self, input_shape: InputShape, wrapped: Annotated[Model, BUILD_ARG],
                 k: Annotated[int, Ge(1)] = 3, mode: Literal["a", "b"] = "a",
                 rate: Rate = 0.5, sizes: Sequence[int] = (1, 2), name: str | None = None,
                 other: Unknown = None, required: float) -> None:
        pass
"""


def test_a_signature_becomes_a_typed_schema(tmp_path):
    path = tmp_path / "example.py"
    path.write_text(MODULE.replace("required: float", "*, required: float"))
    params = {p.name: p for p in _from_source(path, "Example")}
    assert params["input_shape"].build_arg and params["wrapped"].build_arg
    assert not params["k"].build_arg and params["k"].default == 3
    assert params["sizes"].default == (1, 2) and params["required"].required
    assert params["other"].annotation is None  # an unknown name: typed Any, checked by the class


def test_schema_rejects_unknown_keys_and_wrong_types():
    schema = OmegaConf.structured(schema_for("topoexp.models.autoencoders.MLPAutoencoder"))
    assert schema._target_ == "topoexp.models.autoencoders.MLPAutoencoder"
    assert "input_shape" not in schema  # a BUILD_ARG
    assert list(schema.hidden) == [32, 32] and schema.batchnorm == "before_relu"
    with pytest.raises(Exception, match="latent_dim"):
        OmegaConf.merge(schema, {"latent_dim": "two"})
    with pytest.raises(Exception, match="widht"):
        OmegaConf.merge(schema, {"widht": 3})


@pytest.mark.parametrize("target", config_targets())
def test_every_config_target_is_read_from_source_without_importing_it(target):
    module, _, name = target.rpartition(".")
    path = _source_file(module)
    assert path is not None, f"{module} is not a topoexp module"
    params = _from_source(path, name)
    assert params is not None, f"{target}: a non-literal default or an inherited constructor"
    for p in params:
        if not p.build_arg and not p.required:
            assert p.default is not MISSING


def test_composing_a_config_imports_no_torch():
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "topoexp", "--cfg", "job"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "torch" not in imported and "sklearn" not in imported
    assert "_target_: topoexp.tasks.embedding.EmbeddingTask" in done.stdout
