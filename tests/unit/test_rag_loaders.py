from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from switchboard.rag.loaders import (
    DocumentFormat,
    FailureKind,
    LoadResult,
    default_doc_id,
    format_of,
    is_supported,
    iter_files,
    load_path,
    load_paths,
)
from switchboard.rag.types import Document

pytestmark = pytest.mark.unit


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def one(result: LoadResult) -> Document:
    assert result.errors == []
    assert len(result.documents) == 1
    return result.documents[0]


def failure_kind(result: LoadResult) -> FailureKind:
    assert result.documents == []
    assert len(result.errors) == 1
    return result.errors[0].kind


def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text stream per page, a correct xref table."""
    count = len(pages)
    font = 3 + 2 * count
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
    ]
    for i, page in enumerate(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode()
        )
        lines = " ".join(f"({line}) Tj T*" for line in page.split("\n")) if page else ""
        stream = f"BT /F1 12 Tf 72 720 Td 14 TL {lines} ET".encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    if title is not None:
        objects.append(f"<< /Title ({title}) >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = f" /Info {len(objects)} 0 R" if title is not None else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\n".encode()
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


# --- Markdown and plain text ----------------------------------------------------------


def test_markdown_front_matter_becomes_metadata(tmp_path: Path) -> None:
    raw = (
        "---\n"
        'title: "Refund policy"\n'
        "version: 3\n"
        "ratio: 0.5\n"
        "draft: false\n"
        "date: 2024-05-01\n"
        "tags: [billing, refunds]\n"
        "owners:\n"
        "  - ana\n"
        "  - bo\n"
        "author:\n"
        "  name: nested, skipped\n"
        "summary: short # a comment\n"
        "# a comment line\n"
        "---\n"
        "\n# Refunds\n\nWe refund within 14 days.\n"
    )
    path = write(tmp_path / "policy.md", raw)
    document = one(load_path(path))
    assert document.title == "Refund policy"
    assert document.text == "# Refunds\n\nWe refund within 14 days."
    assert document.metadata == {
        "format": "markdown",
        "version": 3,
        "ratio": 0.5,
        "draft": False,
        "date": "2024-05-01",
        "tags": ["billing", "refunds"],
        "owners": ["ana", "bo"],
        "summary": "short",
    }
    assert document.id == "policy.md"
    assert document.source == str(path)
    assert document.content_hash == hashlib.sha256(raw.encode()).hexdigest()


def test_markdown_title_from_first_h1_outside_code(tmp_path: Path) -> None:
    raw = "Intro line.\n\n```python\n# not the title\n```\n\n# Real Title #\n\nBody."
    document = one(load_path(write(tmp_path / "a.markdown", raw)))
    assert document.title == "Real Title"
    assert document.metadata == {"format": "markdown"}


def test_markdown_title_falls_back_to_file_stem(tmp_path: Path) -> None:
    assert one(load_path(write(tmp_path / "notes.md", "## Only h2\n\ntext"))).title == "notes"


def test_horizontal_rule_is_not_front_matter(tmp_path: Path) -> None:
    raw = "---\nJust a paragraph between rules.\n---\n\nMore text."
    document = one(load_path(write(tmp_path / "hr.md", raw)))
    assert document.text == raw
    assert document.metadata == {"format": "markdown"}


def test_plain_text_is_normalized(tmp_path: Path) -> None:
    raw = b"  Line one.  \r\nLine\x00 two.\r\n\r\n\r\n\r\n\r\nAfter\tgap.\rEnd\x0cpage\n\n"
    document = one(load_path(write(tmp_path / "readme.txt", raw), doc_id="custom-id"))
    assert document.id == "custom-id"
    assert document.title == "readme"
    assert document.text == "Line one.\nLine two.\n\nAfter\tgap.\nEnd\npage"
    assert document.metadata == {"format": "text"}


@pytest.mark.parametrize(
    "raw",
    [
        "\ufeffcafé ☕".encode(),
        "\ufeffcafé ☕".encode("utf-16-le"),
        "\ufeffcafé ☕".encode("utf-16-be"),
        "\ufeffcafé ☕".encode("utf-32-le"),
    ],
    ids=["utf-8-bom", "utf-16-le", "utf-16-be", "utf-32-le"],
)
def test_byte_order_marks_pick_the_encoding(tmp_path: Path, raw: bytes) -> None:
    assert one(load_path(write(tmp_path / "t.txt", raw))).text == "café ☕"


def test_invalid_utf8_is_reported_not_guessed(tmp_path: Path) -> None:
    result = load_path(write(tmp_path / "latin.txt", "café".encode("latin-1")))
    assert failure_kind(result) is FailureKind.UNDECODABLE
    assert "byte 0xe9 at offset 3" in result.errors[0].reason


# --- HTML -----------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title> Refund   policy </title>
<meta name="description" content="How refunds work"><style>body { color: red }</style>
<script>var tracking = 1;</script></head>
<body>
<header><nav><a href="/">Home</a> <a href="/about">About us</a></nav></header>
<div role="navigation">Skip to content</div>
<main><article>
<header><h1>Refunds</h1></header>
<p>We refund <b>within</b> 14&nbsp;days.<br>Ask support.</p>
<!-- an HTML comment -->
<h2>Timeline</h2>
<ul><li>Day 1: request</li><li>Day 2: review<ul><li>nested step</li></ul></li></ul>
<ol><li>first</li><li>second</li></ol>
<table><caption>Fees</caption><tr><th>Item</th><th>Fee</th></tr><tr><td>Return</td><td>0</td></tr></table>
<pre>code  line
    indented</pre>
<div hidden>hidden text</div><span aria-hidden="true">icon</span>
<form><input value="q"><button>Search the site</button></form>
<noscript>Enable JavaScript</noscript>
<footer>Share this article</footer>
</article></main>
<aside>Related posts</aside>
<footer>Copyright 2024</footer>
</body></html>"""


def test_html_keeps_content_structure_and_drops_boilerplate(tmp_path: Path) -> None:
    document = one(load_path(write(tmp_path / "site" / "refunds.html", PAGE)))
    assert document.title == "Refund policy"
    assert document.metadata == {
        "format": "html",
        "lang": "en",
        "description": "How refunds work",
    }
    assert document.text == (
        "# Refunds\n\n"
        "We refund within 14 days.\nAsk support.\n\n"
        "## Timeline\n\n"
        "- Day 1: request\n- Day 2: review\n  - nested step\n\n"
        "1. first\n2. second\n\n"
        "Fees\n\n"
        "| Item | Fee |\n| Return | 0 |\n\n"
        "code  line\n    indented"
    )
    for junk in ("tracking", "Home", "Skip", "hidden", "icon", "Search", "JavaScript",
                 "Share", "Related", "Copyright", "color", "comment"):  # fmt: skip
        assert junk not in document.text


def test_html_title_falls_back_to_h1_then_stem(tmp_path: Path) -> None:
    with_h1 = write(tmp_path / "a.htm", "<html><body><h1>Main  heading</h1><p>x</p></body></html>")
    assert one(load_path(with_h1)).title == "Main heading"
    bare = write(tmp_path / "b.html", "<p>Just text</p>")
    assert one(load_path(bare)).title == "b"


def test_html_declared_charset_is_honoured(tmp_path: Path) -> None:
    raw = '<html><head><meta charset="windows-1252"></head><body><p>café</p></body></html>'
    document = one(load_path(write(tmp_path / "legacy.html", raw.encode("cp1252"))))
    assert document.text == "café"


def test_html_with_only_boilerplate_is_empty(tmp_path: Path) -> None:
    raw = "<html><body><nav>Menu</nav><script>x()</script><footer>(c)</footer></body></html>"
    assert failure_kind(load_path(write(tmp_path / "empty.html", raw))) is FailureKind.EMPTY


# --- PDF ------------------------------------------------------------------------------


def test_pdf_text_pages_and_title(tmp_path: Path) -> None:
    raw = make_pdf(["Hello PDF world.\nSecond line here.", "", "Page three text."], title="Manual")
    document = one(load_path(write(tmp_path / "manual.pdf", raw)))
    assert document.title == "Manual"
    assert document.text == "Hello PDF world.\nSecond line here.\n\nPage three text."
    assert document.metadata["format"] == "pdf"
    assert document.metadata["pages"] == 3
    starts = document.metadata["page_starts"]
    assert document.text[starts[0] :].startswith("Hello PDF")
    assert document.text[starts[2] :] == "Page three text."
    assert document.content_hash == hashlib.sha256(raw).hexdigest()


def test_pdf_title_falls_back_to_stem(tmp_path: Path) -> None:
    assert one(load_path(write(tmp_path / "guide.pdf", make_pdf(["Some text."])))).title == "guide"


def test_pdf_without_text_is_empty(tmp_path: Path) -> None:
    result = load_path(write(tmp_path / "scan.pdf", make_pdf(["", ""])))
    assert failure_kind(result) is FailureKind.EMPTY
    assert "OCR" in result.errors[0].reason


def test_corrupt_pdf_is_reported(tmp_path: Path) -> None:
    result = load_path(write(tmp_path / "broken.pdf", b"%PDF-1.4\nthis is not a pdf"))
    assert failure_kind(result) is FailureKind.CORRUPT
    assert result.errors[0].reason.startswith("unreadable PDF")


def test_encrypted_pdf_is_reported(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(write(tmp_path / "plain.pdf", make_pdf(["Secret."]))))
    writer.encrypt(user_password="pw", algorithm="RC4-128")
    with (tmp_path / "locked.pdf").open("wb") as file:
        writer.write(file)
    assert failure_kind(load_path(tmp_path / "locked.pdf")) is FailureKind.ENCRYPTED


# --- JSONL ----------------------------------------------------------------------------


def test_jsonl_loads_a_beir_corpus(tmp_path: Path) -> None:
    records = [
        {
            "_id": "d1",
            "title": "Aspirin",
            "text": "Aspirin reduces fever.",
            "metadata": {"url": "u1"},
        },
        {"_id": "d2", "title": "", "text": "No title here.", "metadata": {}},
    ]
    path = write(tmp_path / "corpus.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    result = load_path(path, doc_id="ignored")
    assert result.errors == []
    first, second = result.documents
    assert (first.id, first.title, first.text) == ("d1", "Aspirin", "Aspirin reduces fever.")
    assert first.metadata == {"url": "u1", "format": "jsonl", "line": 1}
    assert first.source == str(path)
    assert (second.id, second.title, second.metadata["line"]) == ("d2", "", 2)
    canonical = json.dumps(records[0], sort_keys=True, separators=(",", ":")).encode()
    assert first.content_hash == hashlib.sha256(canonical).hexdigest()


def test_jsonl_id_content_and_top_level_fields(tmp_path: Path) -> None:
    record = {"id": 7, "content": "Body.", "lang": "en", "tags": ["a", "b"], "nested": {"x": 1},
              "format": "mine", "metadata": {"lang": "fr", "none": None}}  # fmt: skip
    document = one(load_path(write(tmp_path / "x.jsonl", "\ufeff" + json.dumps(record))))
    assert document.id == "7"
    assert document.text == "Body."
    assert document.metadata == {"lang": "fr", "tags": ["a", "b"], "format": "jsonl", "line": 1}


def test_jsonl_hash_ignores_key_order(tmp_path: Path) -> None:
    a = one(load_path(write(tmp_path / "a.jsonl", '{"_id": "1", "text": "t", "title": "x"}')))
    b = one(load_path(write(tmp_path / "b.jsonl", '{"title":"x","text":"t","_id":"1"}')))
    assert a.content_hash == b.content_hash


def test_jsonl_bad_lines_are_reported_and_the_rest_load(tmp_path: Path) -> None:
    lines = [
        '{"_id": "ok1", "text": "First."}',
        '{"_id": "broken", "text": ',
        "",
        '["not", "an", "object"]',
        '{"text": "no id"}',
        '{"_id": true, "text": "bool id"}',
        '{"_id": "no-text"}',
        '{"_id": "num-text", "text": 5}',
        '{"_id": "blank", "text": "  \\n "}',
        '{"_id": "ok1", "text": "Duplicate."}',
        '{"_id": "ok2", "text": "Last."}',
    ]
    path = write(tmp_path / "mixed.jsonl", "\n".join(lines).encode() + b"\n\xff\xfe\n")
    result = load_path(path)
    assert [d.id for d in result.documents] == ["ok1", "ok2"]
    assert [d.metadata["line"] for d in result.documents] == [1, 11]
    assert [(e.line, e.kind) for e in result.errors] == [
        (2, FailureKind.BAD_RECORD),
        (4, FailureKind.BAD_RECORD),
        (5, FailureKind.BAD_RECORD),
        (6, FailureKind.BAD_RECORD),
        (7, FailureKind.BAD_RECORD),
        (8, FailureKind.BAD_RECORD),
        (9, FailureKind.EMPTY),
        (10, FailureKind.DUPLICATE),
        (12, FailureKind.UNDECODABLE),
    ]
    assert all(e.path == str(path) for e in result.errors)
    assert str(result.errors[0]).startswith(f"{path}:2: invalid JSON")


def test_jsonl_line_over_the_limit_is_skipped(tmp_path: Path) -> None:
    big = json.dumps({"_id": "big", "text": "x" * 500})
    content = f'{{"_id": "a", "text": "A."}}\n{big}\n{{"_id": "b", "text": "B."}}'
    result = load_path(write(tmp_path / "c.jsonl", content), max_bytes=100)
    assert [d.id for d in result.documents] == ["a", "b"]
    assert [(e.line, e.kind) for e in result.errors] == [(2, FailureKind.TOO_LARGE)]


def test_jsonl_without_records_is_empty(tmp_path: Path) -> None:
    assert failure_kind(load_path(write(tmp_path / "e.jsonl", "\n  \n"))) is FailureKind.EMPTY


def test_jsonl_must_be_utf8(tmp_path: Path) -> None:
    raw = '{"_id": "a", "text": "A."}'.encode("utf-16")
    assert failure_kind(load_path(write(tmp_path / "u16.jsonl", raw))) is FailureKind.UNDECODABLE


# --- errors ---------------------------------------------------------------------------


def test_unknown_extension_is_unsupported(tmp_path: Path) -> None:
    result = load_path(write(tmp_path / "image.png", b"\x89PNG"))
    assert failure_kind(result) is FailureKind.UNSUPPORTED
    assert "'.png'" in result.errors[0].reason


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    assert failure_kind(load_path(tmp_path / "nope.md")) is FailureKind.UNREADABLE


def test_file_over_the_limit_is_too_large(tmp_path: Path) -> None:
    result = load_path(write(tmp_path / "big.txt", "x" * 2048), max_bytes=1024)
    assert failure_kind(result) is FailureKind.TOO_LARGE
    assert "limit" in result.errors[0].reason


def test_whitespace_only_file_is_empty(tmp_path: Path) -> None:
    assert failure_kind(load_path(write(tmp_path / "blank.md", " \n\n\x00\n"))) is FailureKind.EMPTY


def test_extension_table() -> None:
    assert format_of(Path("A.MD")) is DocumentFormat.MARKDOWN
    assert format_of(Path("x.htm")) is DocumentFormat.HTML
    assert format_of(Path("corpus.jsonl")) is DocumentFormat.JSONL
    assert format_of(Path("x.docx")) is None
    assert is_supported("a/b.pdf")
    assert not is_supported("Makefile")


# --- files and batches ----------------------------------------------------------------


def test_iter_files_walks_sorted_and_skips_hidden(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    for name in ["b.md", "a.txt", "sub/c.html", "sub/deeper/d.md", ".hidden.md", ".git/x.md"]:
        write(root / name, "text")
    single = write(tmp_path / "single.txt", "text")
    found = list(iter_files([root, single]))
    assert found == [
        (root, root / "a.txt"),
        (root, root / "b.md"),
        (root, root / "sub" / "c.html"),
        (root, root / "sub" / "deeper" / "d.md"),
        (tmp_path, single),
    ]
    assert [default_doc_id(r, f) for r, f in found] == [
        "a.txt",
        "b.md",
        "sub/c.html",
        "sub/deeper/d.md",
        "single.txt",
    ]


def test_load_paths_goes_on_past_bad_files(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    write(root / "a.md", "# A\n\nGood.")
    write(root / "b.pdf", b"%PDF-garbage")
    write(root / "c.txt", b"\xff\xfe\xfa bad utf")
    write(root / "d.bin", b"\x00")
    write(
        root / "e.jsonl", '{"_id": "r1", "text": "R."}\nnot json\n{"_id": "a.md", "text": "clash"}'
    )
    write(root / "f.html", "<p>Fine.</p>")
    result = load_paths([root, tmp_path / "missing.txt"])
    assert [d.id for d in result.documents] == ["a.md", "r1", "f.html"]
    assert [(Path(e.path).name, e.kind) for e in result.errors] == [
        ("b.pdf", FailureKind.CORRUPT),
        ("c.txt", FailureKind.UNDECODABLE),
        ("d.bin", FailureKind.UNSUPPORTED),
        ("e.jsonl", FailureKind.BAD_RECORD),
        ("e.jsonl", FailureKind.DUPLICATE),
        ("missing.txt", FailureKind.UNREADABLE),
    ]
