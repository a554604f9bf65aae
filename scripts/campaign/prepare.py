"""``prepare``: fill the carry folder with the wheels and data sets a campaign needs there.

The folder (``.device/`` by default, ignored by git, named in the device call's ``carry``)::

    wheels/*.whl                     what the experiments import that the device image lacks
    data/<Folder>/raw/<file>.gz      the official files, compressed, in the data root's layout
    manifest.json                    every file's size and SHA-256 (the data's raw ones too)

Everything is built in ``<folder>.partial`` and moved into place only when it fits beside the
working tree that travels anyway (64 MiB in all, less the tracked and untracked-not-ignored
files): a campaign too large for one call is refused, with what to split.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from campaign.files import mib, sha256, write_json
from campaign.limits import (
    DATASETS,
    IMAGE_PACKAGES,
    PLATFORMS,
    PYTHON_VERSION,
    RAW_FILES,
    TREE_LIMIT,
    normalise,
)

NEEDS = Path(__file__).with_name("needs.py")


class PrepareError(RuntimeError):
    """A campaign that cannot be prepared (too large, a wheel or a data file missing)."""


def tree_bytes(repo: Path) -> int:
    """Bytes of what travels anyway: tracked and untracked-not-ignored files, and ``shared/``."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=repo,
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise PrepareError(f"{repo}: cannot list the tracked files with git ({error})") from error
    paths = {repo / name for name in listing.decode().split("\0") if name}
    shared = repo / "shared"
    if shared.is_dir():
        paths.update(p for p in shared.rglob("*") if p.is_file())
    return sum(p.stat().st_size for p in paths if p.is_file() and not p.is_symlink())


def constraints(repo: Path) -> dict[str, str]:
    """``constraints.txt``'s pins: normalised name → version."""
    pins = {}
    path = repo / "constraints.txt"
    for line in path.read_text().splitlines() if path.is_file() else []:
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[normalise(name)] = version.strip()
    return pins


def trace(
    python: str, repo: Path, experiments: list[str], extra: list[str], data_root: Path, static: bool
) -> list[dict[str, Any]]:
    """:mod:`campaign.needs` for every experiment, each in its own process."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
    }
    env["TOPOEXP_DATA_DIR"] = str(data_root)
    results = []
    with tempfile.TemporaryDirectory(prefix="needs-") as tmp:
        for experiment in experiments:
            out = Path(tmp) / "needs.json"
            command = [python, str(NEEDS), experiment, "--json", str(out)]
            if static:
                command.append("--static")
            print(f"prepare: what {experiment} imports ({'static' if static else 'smoke run'})")
            done = subprocess.run(
                [*command, "--", *extra], cwd=repo, env=env, capture_output=True, text=True
            )
            if done.returncode != 0 or not out.is_file():
                raise PrepareError(
                    f"cannot tell what {experiment} needs:\n{done.stderr[-2000:]}".rstrip()
                )
            result = json.loads(out.read_text())
            if result["error"]:
                print(f"  its smoke run failed, read statically: {result['error'][-300:]}")
            results.append(result)
    return results


def wanted_wheels(traced: list[dict[str, Any]], pins: dict[str, str]) -> dict[str, str]:
    """Distributions to carry: traced, not in the image, pinned by ``constraints.txt``."""
    wanted = {}
    for result in traced:
        for name, version in result["distributions"].items():
            key = normalise(name)
            if key in IMAGE_PACKAGES or key == "topoexp":
                continue
            wanted[key] = pins.get(key, version)
    return dict(sorted(wanted.items()))


def _wheel_name(path: Path) -> str:
    return normalise(path.name.split("-")[0])


def _pip(python: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "pip", *args], capture_output=True, text=True)


def download(python: str, wanted: dict[str, str], dest: Path) -> dict[str, str]:
    """Wheels for the device's Python into ``dest``: ``{name: how}`` (``index`` or ``built``,
    a pure-Python wheel built here from a source-only release)."""
    dest.mkdir(parents=True, exist_ok=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    common = ["download", "--no-deps", "--only-binary=:all:", "--python-version", PYTHON_VERSION]
    common += ["--implementation", "cp", *platforms, "-d", str(dest)]
    specs = [f"{name}=={version}" for name, version in wanted.items()]
    if not specs:
        return {}
    how = dict.fromkeys(wanted, "index")
    if _pip(python, *common, *specs).returncode != 0:
        for name, version in wanted.items():
            if _pip(python, *common, f"{name}=={version}").returncode == 0:
                continue
            built = _pip(
                python,
                "wheel",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-w",
                str(dest),
                f"{name}=={version}",
            )
            wheel = [w for w in dest.glob("*.whl") if _wheel_name(w) == name]
            if built.returncode != 0 or not wheel or not wheel[0].name.endswith("-none-any.whl"):
                for w in wheel:
                    w.unlink()
                raise PrepareError(
                    f"no wheel of {name}=={version} for Python {PYTHON_VERSION} on "
                    f"manylinux x86_64, and it is not pure Python:\n{built.stderr[-1500:]}"
                )
            how[name] = "built"
    have = {_wheel_name(w) for w in dest.glob("*.whl")}
    missing = sorted(set(wanted) - have)
    if missing:
        raise PrepareError(f"pip left no wheel for {', '.join(missing)}")
    return how


def copy_data(datasets: list[str], data_root: Path, dest: Path) -> list[dict[str, Any]]:
    """The data sets' official files, compressed, into ``dest`` (the data root's layout).

    A ``.gz`` beside the raw file in the data root is copied as it is; otherwise the raw file is
    compressed here (gzip, no time stamp)."""
    entries = []
    for name in datasets:
        if name not in DATASETS:
            raise PrepareError(
                f"data set {name!r} cannot be carried (the runner carries "
                f"{', '.join(DATASETS)}; its files are not available offline)"
            )
        for raw_name in RAW_FILES:
            target = f"{DATASETS[name]}/raw/{raw_name}"
            raw, packed = data_root / target, data_root / f"{target}.gz"
            out = dest / f"{target}.gz"
            out.parent.mkdir(parents=True, exist_ok=True)
            if packed.is_file():
                shutil.copyfile(packed, out)
                with gzip.open(packed, "rb") as f, tempfile.TemporaryFile() as tmp:
                    shutil.copyfileobj(f, tmp)
                    raw_bytes = tmp.tell()
                raw_sha = _gz_sha256(out)
            elif raw.is_file():
                with (
                    open(raw, "rb") as f,
                    open(out, "wb") as o,
                    gzip.GzipFile(raw_name, "wb", 9, o, mtime=0) as z,
                ):
                    shutil.copyfileobj(f, z, 1 << 20)
                raw_bytes, raw_sha = raw.stat().st_size, sha256(raw)
            else:
                raise PrepareError(
                    f"data set {name!r}: {raw} (or {packed.name}) not found under {data_root}; "
                    "point --data-root or TOPOEXP_DATA_DIR at the folder holding "
                    f"{DATASETS[name]}/raw/"
                )
            entries.append(
                {
                    "dataset": name,
                    "file": f"data/{target}.gz",
                    "target": target,
                    "raw_bytes": raw_bytes,
                    "raw_sha256": raw_sha,
                }
            )
    return entries


def _gz_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with gzip.open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _refusal(total: int, room: int, tree: int, limit: int, parts: dict[str, int]) -> str:
    lines = [
        f"prepare: refused: {mib(total)} to carry, but only {mib(room)} fit "
        f"({mib(limit)} per device call less the {mib(tree)} of the working tree that travels)"
    ]
    lines += [f"  {part}: {mib(size)}" for part, size in parts.items()]
    data = [p for p in parts if p.startswith("data ")]
    if len(data) > 1:
        names = ", ".join(p.removeprefix("data ") for p in data)
        lines.append(
            f"split the data sets over calls: one `prepare --data <one of {names}>` (and a run of "
            "its experiments) per device call"
        )
    else:
        lines.append(
            "carry less per call: fewer experiments (fewer wheels), or --skip-wheel NAME for a "
            "wheel the runs do not import"
        )
    return "\n".join(lines)


def prepare(
    *,
    repo: Path,
    experiments: list[str],
    datasets: list[str] | None,
    data_root: Path,
    out_dir: Path,
    wheels: bool = True,
    static: bool = False,
    extra: list[str] = (),
    skip_wheels: list[str] = (),
    limit: int = TREE_LIMIT,
    python: str = sys.executable,
) -> dict[str, Any]:
    """Build the carry folder (module docstring); returns its manifest."""
    traced: list[dict[str, Any]] = []
    if wheels:
        traced = trace(python, repo, experiments, list(extra), data_root, static)
    if datasets is None:
        datasets = sorted({d for r in traced for d in r["datasets"]}) if traced else None
    if datasets is None:
        datasets = _datasets_only(python, repo, experiments, list(extra))
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        wanted = wanted_wheels(traced, constraints(repo))
        for name in skip_wheels:
            wanted.pop(normalise(name), None)
        how = download(python, wanted, partial / "wheels") if wanted else {}
        entries = []
        for wheel in sorted((partial / "wheels").glob("*.whl")):
            name = _wheel_name(wheel)
            entries.append(
                {
                    "file": f"wheels/{wheel.name}",
                    "name": name,
                    "version": wanted.get(name),
                    "source": how.get(name, "index"),
                }
            )
        entries += copy_data(datasets, data_root, partial / "data")
        for entry in entries:
            path = partial / entry["file"]
            entry["bytes"], entry["sha256"] = path.stat().st_size, sha256(path)
        tree = tree_bytes(repo)
        manifest = {
            "experiments": experiments,
            "datasets": datasets,
            "extra": list(extra),
            "python": PYTHON_VERSION,
            "needs": [{k: r[k] for k in ("experiment", "mode", "error")} for r in traced],
            "files": entries,
            "tree_bytes": tree,
            "limit_bytes": limit,
        }
        write_json(partial / "manifest.json", manifest)
        total = sum(p.stat().st_size for p in partial.rglob("*") if p.is_file())
        manifest["total_bytes"] = total
        write_json(partial / "manifest.json", manifest)
        parts = {"wheels": sum(e["bytes"] for e in entries if e["file"].startswith("wheels/"))}
        for name in datasets:
            parts[f"data {name}"] = sum(e["bytes"] for e in entries if e.get("dataset") == name)
        _print_summary(entries, parts, total, tree, limit)
        if total > limit - tree:
            raise PrepareError(_refusal(total, limit - tree, tree, limit, parts))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(partial, out_dir)
    return manifest


def _datasets_only(python: str, repo: Path, experiments: list[str], extra: list[str]) -> list[str]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import needs; "
        "print(json.dumps(sorted({d for e in sys.argv[2:] for d in "
        f"needs.data_sets(needs.compose_job(e, {extra!r}))}})))"
    )
    env = {**os.environ, "PYTHONPATH": str(repo)}
    done = subprocess.run(
        [python, "-c", code, str(NEEDS.parent), *experiments],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise PrepareError(f"cannot compose the experiments:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _print_summary(
    entries: list[dict[str, Any]], parts: dict[str, int], total: int, tree: int, limit: int
) -> None:
    for entry in entries:
        print(f"  {entry['bytes']:>11,d}  {entry['file']}")
    for part, size in parts.items():
        print(f"prepare: {part}: {mib(size)}")
    print(
        f"prepare: total {mib(total)} to carry; working tree {mib(tree)}; "
        f"room {mib(limit - tree)} of {mib(limit)}"
    )
