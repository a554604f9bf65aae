"""Run directories into ``.tar.xz`` archives of bounded size, and back.

A run directory is never split: each one is compressed alone to learn its size, the directories
are grouped first-fit-decreasing into archives of at most ``limit`` bytes, and an archive that
still comes out larger (xz over several directories can differ from the sum) is split in two.
Checkpoints (``checkpoints/``, ``*.pt``, ``*.pth``, ``*.ckpt``) stay behind unless kept, as does
any file over ``max_file`` bytes; the campaign record lists what was left out.
"""

from __future__ import annotations

import io
import lzma
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from campaign.files import sha256

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
XZ_PRESET = 6


class PackingError(RuntimeError):
    """Run directories that cannot fit the archives allowed."""


@dataclass
class Unit:
    """One run directory: its path below the runs root, the files to pack, the files left out."""

    name: str
    files: list[Path]
    left_out: list[str] = field(default_factory=list)
    size: int = 0  # its own compressed archive, bytes


def is_checkpoint(relative: PurePosixPath) -> bool:
    return "checkpoints" in relative.parts[:-1] or relative.suffix in CHECKPOINT_SUFFIXES


def select_files(
    run_dir: Path, keep_checkpoints: bool, max_file: int
) -> tuple[list[Path], list[str]]:
    """The files of ``run_dir`` to pack, and those left out (with why)."""
    files, left_out = [], []
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file() and not p.is_symlink()):
        relative = PurePosixPath(path.relative_to(run_dir).as_posix())
        if not keep_checkpoints and is_checkpoint(relative):
            left_out.append(f"{relative} (checkpoint)")
        elif path.stat().st_size > max_file:
            left_out.append(f"{relative} ({path.stat().st_size} bytes, over {max_file})")
        else:
            files.append(path)
    return files, left_out


def _clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write_archive(target: Path | io.BytesIO, root: Path, units: Iterable[Unit]) -> None:
    """An xz-compressed tar of ``units``' files, named relative to ``root``."""
    where = {"fileobj": target} if isinstance(target, io.BytesIO) else {"name": target}
    with tarfile.open(mode="w:xz", preset=XZ_PRESET, **where) as tar:
        for unit in units:
            for path in unit.files:
                tar.add(path, arcname=path.relative_to(root).as_posix(), filter=_clean)


def measure(root: Path, unit: Unit) -> int:
    buffer = io.BytesIO()
    write_archive(buffer, root, [unit])
    unit.size = len(buffer.getvalue())
    return unit.size


def group(sizes: Sequence[int], limit: int) -> list[list[int]]:
    """Indices of ``sizes`` grouped first-fit-decreasing into bins of at most ``limit``."""
    bins: list[list[int]] = []
    totals: list[int] = []
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        for b, total in enumerate(totals):
            if total + sizes[i] <= limit:
                bins[b].append(i)
                totals[b] += sizes[i]
                break
        else:
            bins.append([i])
            totals.append(sizes[i])
    return [sorted(b) for b in bins]


def plan(
    units: Sequence[Unit], limit: int, max_archives: int
) -> tuple[list[list[Unit]], list[Unit]]:
    """Archives for ``units`` (in priority order) and the units that do not fit: a unit larger
    than ``limit`` alone, then the last ones while more than ``max_archives`` would be needed."""
    fitting = [u for u in units if u.size <= limit]
    dropped = [u for u in units if u.size > limit]
    while fitting:
        bins = group([u.size for u in fitting], limit)
        if len(bins) <= max_archives:
            return [[fitting[i] for i in b] for b in bins], dropped
        dropped.append(fitting.pop())
    return [], dropped


def pack(
    root: Path,
    units: Sequence[Unit],
    out_dir: Path,
    limit: int,
    max_archives: int,
    prefix: str = "runs",
) -> tuple[list[dict], list[Unit]]:
    """Write the archives into ``out_dir``; returns their records and the units left out."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for unit in units:
        measure(root, unit)
    bins, dropped = plan(units, limit, max_archives)
    queue, written = list(bins), []
    while queue:
        members = queue.pop(0)
        index = len(written) + 1
        path = out_dir / f"{prefix}-{index:02d}.tar.xz"
        write_archive(path, root, members)
        size = path.stat().st_size
        if size > limit and len(members) > 1:  # rare: split it and write both halves again
            path.unlink()
            half = len(members) // 2
            queue[:0] = [members[:half], members[half:]]
            continue
        if size > limit or len(written) >= max_archives:
            path.unlink()
            dropped.extend(members)
            continue
        written.append(
            {
                "file": path.name,
                "bytes": size,
                "sha256": sha256(path),
                "runs": [u.name for u in members],
                "files": {
                    p.relative_to(root).as_posix(): sha256(p) for u in members for p in u.files
                },
            }
        )
    return written, dropped


def safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """The archive's members, refusing links, absolute paths and ``..``."""
    members = tar.getmembers()
    for member in members:
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
            raise PackingError(f"unsafe archive member {member.name!r}")
    return members


def extract(archive: Path, into: Path) -> list[str]:
    """Extract ``archive`` into ``into``; returns the member file names."""
    with tarfile.open(archive, mode="r:xz") as tar:
        members = safe_members(tar)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, members=members, filter="data")
        else:  # members checked above
            tar.extractall(into, members=members)
    return [m.name for m in members if m.isfile()]


def check_xz(path: Path) -> None:
    """Raise :class:`PackingError` unless ``path`` decompresses whole."""
    try:
        with lzma.open(path) as f:
            while f.read(1 << 20):
                pass
    except (lzma.LZMAError, EOFError) as error:
        raise PackingError(f"{path.name}: damaged archive ({error})") from error
