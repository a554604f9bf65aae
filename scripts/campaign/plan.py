"""``plan``: the command line to give the device tool, checked against its 2,000 characters."""

from __future__ import annotations

import shlex
from pathlib import Path

from campaign.files import read_json
from campaign.limits import CARRY_DIR, COMMAND_LIMIT

#: Where the carried wheels are installed on the device machine (the device README's recipe).
SITE = "/tmp/site"
#: Seconds of a device call that the campaign's budget leaves to the install and the start.
START_MARGIN_S = 60


class PlanError(ValueError):
    """A device command that would not be accepted (too long, a budget over the call's limit)."""


def install_line(carried: str) -> str:
    """The shell line installing the carried wheels into :data:`SITE`."""
    return (
        "python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade "
        f"--target {SITE} {shlex.quote(carried)}/wheels/*.whl && export PYTHONPATH={SITE} || exit; "
    )


def device_command(
    *,
    experiments: list[str],
    seeds: list[int],
    budget_s: float,
    device: str = "cuda",
    extra: list[str] = (),
    name: str | None = None,
    carried: str = CARRY_DIR,
    wheels: bool = True,
    ensemble: bool = False,
    keep_checkpoints: bool = False,
    limit: int = COMMAND_LIMIT,
) -> str:
    """The whole device command line; raises :class:`PlanError` when it is over ``limit``."""
    run = [
        "python3",
        "scripts/device_campaign.py",
        "run",
        "--experiments",
        ",".join(experiments),
        "--seeds",
        ",".join(str(s) for s in seeds),
        "--budget-s",
        f"{budget_s:g}",
        "--device",
        device,
        "--carried",
        carried,
    ]
    if name:
        run += ["--name", name]
    if ensemble:
        run.append("--ensemble")
    if keep_checkpoints:
        run.append("--keep-checkpoints")
    for item in extra:
        run += ["--extra", item]
    line = (install_line(carried) if wheels else "") + "PYTHONUNBUFFERED=1 "
    line += " ".join(shlex.quote(part) for part in run) + ' --out "$OUT"'
    if len(line) > limit:
        raise PlanError(
            f"the device command has {len(line)} characters, over the {limit} of one call: "
            "split the experiments over calls or shorten the overrides"
        )
    return line


def carried_wheels(carried: Path) -> bool | None:
    """Whether the prepared folder holds wheels (``None``: not prepared)."""
    manifest = carried / "manifest.json"
    if not manifest.is_file():
        return None
    return any(e["file"].startswith("wheels/") for e in read_json(manifest)["files"])


def check_budget(budget_s: float, timeout_s: int) -> None:
    if not 0 < timeout_s <= 600:
        raise PlanError(f"--timeout-s {timeout_s}: one device command runs at most 600 s")
    if budget_s > timeout_s - 20:
        raise PlanError(
            f"--budget-s {budget_s:g} leaves under 20 s of the {timeout_s} s call for the "
            "install and the start: lower it"
        )
