"""``switchboard bench assistant``: the golden set, per model, under each named way of
answering (``answer_settings``), one split after the other, in-process.

Each (model, setting, split) is one run of the golden-set evaluation
(``switchboard.evaluation.runner.evaluate``: the real pipeline, a fresh store, the Order API
as its own process, one case at a time) and becomes one row of figures. Rows come as they
finish, so the report on disk keeps every finished row if a later run crashes or is
interrupted; a run that fails as a whole becomes a row with its error and the bench goes on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchboard.config import Settings
from switchboard.evaluation.golden import GoldenCase
from switchboard.evaluation.metrics import ANSWER_PATHS, percentiles
from switchboard_bench.answer_settings import AnswerSetting, apply_setting

Progress = Callable[[str, bool], None]  # (what runs now, whether a case just finished)
Evaluate = Callable[..., dict[str, Any]]  # switchboard.evaluation.runner.evaluate's shape


@dataclass(frozen=True)
class BenchPlan:
    models: Sequence[tuple[str, Path]]  # name, resolved GGUF file
    settings: Sequence[AnswerSetting]
    cases: Mapping[str, Sequence[GoldenCase]]  # split -> its cases

    @property
    def total_cases(self) -> int:
        per_run = sum(len(cases) for cases in self.cases.values())
        return per_run * len(self.models) * len(self.settings)


def split_cases(
    cases: Sequence[GoldenCase], splits: Sequence[str], limit: int | None
) -> dict[str, list[GoldenCase]]:
    """Each split's cases in file order, the first ``limit`` of them if given."""
    chosen = {split: [c for c in cases if c.split == split][:limit] for split in splits}
    empty = [split for split, picked in chosen.items() if not picked]
    if empty:
        raise ValueError(f"no golden case in split {empty[0]!r}")
    return chosen


def run_bench(
    base: Settings, plan: BenchPlan, progress: Progress, evaluate: Evaluate
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(row, the eval's run with its cases) per model, setting and split, as each ends."""
    for model in plan.models:
        for setting in plan.settings:
            settings = apply_setting(base, setting)
            for split, cases in plan.cases.items():
                ids = {"model": model[0], "setting": setting.name, "split": split}
                yield _run(settings, model, ids, cases, progress, evaluate)


def _run(
    settings: Settings,
    model: tuple[str, Path],
    ids: dict[str, str],
    cases: Sequence[GoldenCase],
    progress: Progress,
    evaluate: Evaluate,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One run's row and cases; a run that fails as a whole is a row with its error."""
    where = f"{ids['setting']}, {ids['split']}"  # the eval's own text names the model

    def step(text: str, done: bool) -> None:
        progress(f"{where}: {text}", done)

    chunk_tokens = settings.knowledge.chunking.chunk_tokens
    try:
        result = evaluate(settings, cases, [model], [chunk_tokens], progress=step)
    except Exception as exc:  # the bench goes on with the next run
        return {**ids, "cases": len(cases), "error": repr(exc)}, ids
    [run] = result["runs"]
    return bench_row(ids["model"], ids["setting"], ids["split"], run), {**run, **ids}


def bench_row(model: str, setting: str, split: str, run: Mapping[str, Any]) -> dict[str, Any]:
    """One run's figures: quality, the answer-path mix, latencies of answers from the
    articles (first token and end to end, as the client saw them), the model's own TTFT
    and prompt tokens computed and reused per model call."""
    summary = run["summary"]
    answers = [c for c in run["cases"] if c["answer_path"] in ANSWER_PATHS and not c["error"]]
    return {
        "model": model,
        "setting": setting,
        "split": split,
        "cases": summary["cases"],
        "errors": summary["errors"],
        "key_fact_recall": summary["key_fact_recall"],
        "citation_precision": summary["citation_precision"],
        "forbidden_fact_rate": summary["forbidden_fact_rate"],
        "cross_customer_leaks": summary["cross_customer_leaks"],
        "invented_statuses": summary["invented_statuses"],
        "handoff_accuracy": summary["handoff_accuracy"],
        "answer_paths": summary["answer_paths"],
        "first_token_ms": summary["first_token_ms"],
        "answer_latency_ms": percentiles([c["latency_ms"] for c in answers]),
        "model_ttft_ms": summary["ttft_ms"],
        "model_calls": summary["model_calls"],
        "prefill_tokens_per_call": summary["prefill_tokens_per_call"],
        "reused_tokens_per_call": summary["reused_tokens_per_call"],
    }


_COLUMNS = (  # header, how a row shows it
    ("model", lambda r: r["model"]),
    ("setting", lambda r: r["setting"]),
    ("split", lambda r: r["split"]),
    ("cases", lambda r: str(r["cases"])),
    ("key facts", lambda r: _pct(r["key_fact_recall"])),
    ("citations", lambda r: _pct(r["citation_precision"])),
    ("forbidden", lambda r: _pct(r["forbidden_fact_rate"])),
    ("leaks", lambda r: str(r["cross_customer_leaks"])),
    ("invented statuses", lambda r: str(r["invented_statuses"])),
    ("handoffs", lambda r: _pct(r["handoff_accuracy"])),
    ("first token p50 / p95 ms", lambda r: _pair(r["first_token_ms"])),
    ("end to end p50 / p95 ms", lambda r: _pair(r["answer_latency_ms"])),
    ("model TTFT p50 / p95 ms", lambda r: _pair(r["model_ttft_ms"])),
    ("prompt tokens computed / reused per call",
     lambda r: f"{r['prefill_tokens_per_call']:.0f} / {r['reused_tokens_per_call']:.0f}"),
    ("answer paths", lambda r: _mix(r["answer_paths"])),
)  # fmt: skip
_ALIGN = {"model": "---", "setting": "---", "split": "---", "answer paths": "---"}


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """One line per row; first token and end to end are of answers from the articles.
    A failed run shows its error in the last column."""
    lines = [
        "| " + " | ".join(header for header, _ in _COLUMNS) + " |",
        "|" + "|".join(_ALIGN.get(header, "---:") for header, _ in _COLUMNS) + "|",
    ]
    for row in rows:
        if "error" in row:
            cells = [str(row.get(h, "-")) for h, _ in _COLUMNS[:4]] + ["-"] * (len(_COLUMNS) - 5)
            cells.append(f"error: {row['error']}")
        else:
            cells = [show(row) for _, show in _COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _pair(value: Mapping[str, float] | None) -> str:
    return "-" if value is None else f"{value['p50']:.0f} / {value['p95']:.0f}"


def _mix(paths: Mapping[str, float]) -> str:
    return ", ".join(f"{path} {share:.0%}" for path, share in paths.items()) or "-"


def report(
    plan: BenchPlan, rows: Sequence[Mapping[str, Any]], runs: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The JSON document: what was run, one row per run, and every run's cases."""
    return {
        "models": [name for name, _ in plan.models],
        "settings": {s.name: {"about": s.about, "overrides": dict(s.overrides)}
                     for s in plan.settings},
        "splits": {split: len(cases) for split, cases in plan.cases.items()},
        "rows": list(rows),
        "runs": list(runs),
    }  # fmt: skip


class BenchReport:
    """The rows so far; with a path, the JSON report is rewritten after each row, so the
    finished rows are kept whatever stops the bench later."""

    def __init__(self, plan: BenchPlan, path: Path | None) -> None:
        self.plan = plan
        self.path = path
        self.rows: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []

    def record(self, results: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """Keep each (row, run) as it comes."""
        for row, run in results:
            self.rows.append(row)
            self.runs.append(run)
            if self.path is not None:
                write_report(self.path, report(self.plan, self.rows, self.runs))


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: an interrupted write keeps the old file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_report(path: Path, document: Mapping[str, Any]) -> None:
    write_atomically(path, json.dumps(document, indent=2) + "\n")
