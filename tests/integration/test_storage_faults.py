"""A damaged knowledge database (cut off, another file in its place, damaged pages), served
for real: the real embedding model and SQLite, the server on loopback. It starts,
``/health`` says down and names the store, and a search is a 503 naming the file and the
way out, not a generic 500."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from switchboard.api import create_app
from switchboard.config import EmbeddingSettings, KnowledgeSettings, Settings
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef
from switchboard_bench.uvicorn_thread import serve
from tests.unit.test_api_routes import FakeServedEngine, _settings
from tests.unit.test_sqlite_file import damage_pages

pytestmark = pytest.mark.integration

KNOWLEDGE = KnowledgeSettings(embedding=EmbeddingSettings(n_threads=1))
ARTICLES = {
    "refunds.md": "# Refunds\n\nRefunds are issued within five business days.\n",
    "shipping.md": "# Shipping\n\nStandard shipping takes three to five business days.\n",
}


def truncate(path: Path) -> None:
    """Cut off at half, as an interrupted copy leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def overwrite_header(path: Path) -> None:
    """Another file in its place: the first page is not SQLite's."""
    data = path.read_bytes()
    path.write_bytes(b"\x00" * 4096 + data[4096:])


@pytest.fixture(scope="module")
def knowledge_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A knowledge database with the two articles in the ``shop`` collection."""
    folder = tmp_path_factory.mktemp("kb")
    for name, text in ARTICLES.items():
        (folder / name).write_text(text)
    path = folder / "knowledge.sqlite3"
    kb = KnowledgeBase.open(KNOWLEDGE, str(path), Settings().models_dir)
    report = kb.ingestor.ingest_files(
        CollectionRef("default", "shop"), kb.ingestor.list_files([folder])
    )
    assert not report.failures
    kb.close()
    return path


def health_and_search(path: Path, folder: Path) -> tuple[httpx.Response, httpx.Response]:
    """Serve the knowledge database at ``path``; its ``/health`` and a search of ``shop``."""
    kb = KnowledgeBase.open(KNOWLEDGE, str(path), Settings().models_dir)
    try:
        app = create_app(FakeServedEngine(), _settings(folder), knowledge=kb)
        with serve(app) as url:
            health = httpx.get(f"{url}/health", timeout=10)
            search = httpx.post(
                f"{url}/v1/search", json={"query": "refunds", "collection": "shop"}, timeout=30
            )
    finally:
        kb.close()
    return health, search


@pytest.mark.parametrize(
    ("damage", "what"),
    [
        (truncate, "is damaged (database disk image is malformed)"),
        (overwrite_header, "is not a SQLite database (file is not a database)"),
        (damage_pages, "is damaged (database disk image is malformed)"),
    ],
)
def test_a_damaged_knowledge_db_starts_down_and_searches_name_the_file(
    knowledge_db: Path,
    tmp_path: Path,
    damage: Callable[[Path], None],
    what: str,
) -> None:
    path = tmp_path / "knowledge.sqlite3"
    path.write_bytes(knowledge_db.read_bytes())
    damage(path)
    health, search = health_and_search(path, tmp_path)
    assert health.status_code == 503
    assert health.json()["status"] == "down"
    store = health.json()["stores"]["knowledge"]
    assert (store["status"], store["path"]) == ("down", str(path))
    assert store["quick_check"] != "ok"
    assert search.status_code == 503
    error = search.json()["error"]
    assert (error["type"], error["code"]) == ("server_error", "storage_error")
    assert error["message"].startswith(f"{path} {what}")
    assert error["message"].endswith(
        "restore it from a backup, or move it away and re-run `switchboard demo load` / "
        "`switchboard ingest`"
    )


def test_the_undamaged_copy_searches_fine(knowledge_db: Path, tmp_path: Path) -> None:
    path = tmp_path / "knowledge.sqlite3"
    path.write_bytes(knowledge_db.read_bytes())
    health, search = health_and_search(path, tmp_path)
    assert (health.status_code, health.json()["status"]) == (200, "ok")
    assert search.status_code == 200
    assert search.json()["data"][0]["document_id"] == "refunds.md"
