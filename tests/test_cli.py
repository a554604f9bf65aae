"""The ``topoexp`` command: one-message config errors, did-you-mean, ``--cfg job`` checks, debug."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from topoexp.cli import UnknownOption, apply_debug, check_options, compose_config, group_options
from topoexp.cli import main as cli_main


def test_group_options_are_the_files_nested_ones_included() -> None:
    assert "spheres/topoae" in group_options("experiment")
    assert group_options("model")[:2] == ["corel", "deep"]
    assert group_options("trainer.lr") is None and group_options("hydra/launcher") is None


@pytest.mark.parametrize(
    ("override", "expected"),
    [("model=mlpp", "did you mean 'mlp'"), ("+experiment=spheres/topoea", "'spheres/topoae'")],
)
def test_unknown_option_lists_the_valid_ones(override: str, expected: str) -> None:
    with pytest.raises(UnknownOption) as error:
        check_options([override])
    assert expected in str(error.value)
    check_options(["model=mlp", "+experiment=spheres/topoae", "debug=null", "trainer.lr=1"])


def test_sweep_values_are_checked_one_by_one() -> None:
    with pytest.raises(UnknownOption, match="'pcaa'"):
        check_options(["model=mlp,pcaa"])


def test_cfg_job_validates_with_one_message(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli_main(["trainer.max_epochs=0", "--cfg", "job"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "invalid config value for 'trainer.max_epochs'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 2  # the message and the debug switch's hint


def test_cfg_job_prints_the_config(capsys: pytest.CaptureFixture[str]) -> None:
    cli_main(["+experiment=spheres/topoae", "debug=smoke", "--cfg", "job"])
    cfg = OmegaConf.create(capsys.readouterr().out)
    assert cfg.trainer.max_epochs == 1 and cfg.dataset.n_samples == 40
    assert cfg.logger._target_ == "topoexp.sinks.base.NullSink"


def test_debug_preset_wins_over_the_experiment_where_the_key_exists() -> None:
    cfg = compose_config(["+experiment=study/spheres_topoae", "debug=smoke"])
    job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    assert job.trainer.max_epochs == 20  # the experiment's, composed after the preset
    changed = apply_debug(job)
    assert job.trainer.max_epochs == 1 and "trainer.max_epochs" in changed
    assert "trainer.iterations" not in changed and "iterations" not in job.trainer
    assert apply_debug(compose_config(["model=mlp"])) == []  # no preset, nothing changed
