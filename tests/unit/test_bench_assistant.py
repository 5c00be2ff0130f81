"""``switchboard bench assistant`` without a model: the table of named settings and their
overrides, choosing cases, one row per run from a hand-made eval result, the report kept
row by row, and the markdown table. A fake ``evaluate`` stands in for the golden-set run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from switchboard.config import Settings
from switchboard.evaluation.golden import GoldenCase, default_golden_path, load_golden
from switchboard_bench.answer_settings import (
    ANSWER_SETTINGS,
    AnswerSetting,
    apply_setting,
    pick_settings,
)
from switchboard_bench.assistant_bench import (
    BenchPlan,
    BenchReport,
    bench_row,
    markdown_table,
    run_bench,
    split_cases,
)

pytestmark = pytest.mark.unit

GOLDEN = load_golden(default_golden_path())


def by_name(name: str) -> AnswerSetting:
    [setting] = pick_settings([name])
    return setting


# -- the settings table -----------------------------------------------------------------------


def test_each_named_setting_changes_only_its_levers() -> None:
    base = Settings()
    changed = {s.name: apply_setting(base, s) for s in ANSWER_SETTINGS}

    assert changed["quote"].assistant.answer_mode == "quote"
    for name in ("generate", "generate-unchecked", "generate-no-prefix", "generate-evidence",
                 "generate-ngram", "generate-draft"):  # fmt: skip
        assert changed[name].assistant.answer_mode == "generate"
    assert changed["generate"].assistant.grounding.enabled is base.assistant.grounding.enabled
    assert changed["generate"].engine == base.engine
    assert changed["generate-unchecked"].assistant.grounding.enabled is False
    assert changed["generate-no-prefix"].engine.prefix_cache is False
    assert changed["generate-no-prefix"].engine.prefix_cache_cells == 0
    assert changed["generate-evidence"].assistant.evidence_spans == 4
    assert changed["generate-ngram"].engine.speculative == "ngram"
    assert changed["generate-ngram"].assistant.grounding == base.assistant.grounding
    assert changed["generate-ngram"].knowledge == base.knowledge
    draft = changed["generate-draft"].engine
    assert (draft.speculative, draft.draft_model) == ("draft", "qwen2.5-0.5b")
    assert base.engine.prefix_cache is True  # the configured settings are left as they were


def test_overrides_apply_to_the_configured_settings_not_the_defaults() -> None:
    base = Settings(engine={"n_threads": 1, "max_num_seqs": 2})

    ngram = apply_setting(base, by_name("generate-ngram"))

    assert (ngram.engine.n_threads, ngram.engine.max_num_seqs) == (1, 2)
    assert ngram.engine.speculative == "ngram"


def test_a_misspelt_path_or_a_refused_value_is_a_one_line_error() -> None:
    base = Settings()
    bad_path = AnswerSetting("x", "", {"engine.prefix_cash": False})
    not_a_section = AnswerSetting("y", "", {"engine.prefix_cache.size": 3})
    bad_value = AnswerSetting("z", "", {"engine.speculative": "telepathy"})
    crossed = AnswerSetting("w", "", {"engine.ngram_min": 17})  # above ngram_max: a validator

    for setting, words in ((bad_path, "no setting engine.prefix_cash"),
                           (not_a_section, "no setting engine.prefix_cache.size"),
                           (bad_value, "engine.speculative = 'telepathy'"),
                           (crossed, "ngram_min")):  # fmt: skip
        with pytest.raises(ValueError, match="setting") as raised:
            apply_setting(base, setting)
        assert words in str(raised.value)
        assert "\n" not in str(raised.value)


def test_settings_are_picked_by_name_in_the_order_given() -> None:
    names = [s.name for s in pick_settings(["generate", "quote", "generate"])]
    assert names == ["generate", "quote"]
    with pytest.raises(ValueError, match=r"unknown setting 'generate-fast'.*known: quote"):
        pick_settings(["quote", "generate-fast"])
    with pytest.raises(ValueError, match="no setting"):
        pick_settings([])


# -- cases -------------------------------------------------------------------------------------


def test_cases_are_taken_per_split_in_file_order_up_to_the_limit() -> None:
    chosen = split_cases(GOLDEN, ["test", "dev"], limit=3)

    assert list(chosen) == ["test", "dev"]
    assert [c.id for c in chosen["test"]] == [c.id for c in GOLDEN if c.split == "test"][:3]
    assert all(c.split == "dev" for c in chosen["dev"])
    assert len(chosen["dev"]) == 3
    assert len(split_cases(GOLDEN, ["test"], None)["test"]) == sum(
        c.split == "test" for c in GOLDEN
    )
    with pytest.raises(ValueError, match="no golden case in split 'dev'"):
        split_cases([c for c in GOLDEN if c.split == "test"], ["test", "dev"], None)


# -- rows --------------------------------------------------------------------------------------


def case(path: str, latency: float, error: str | None = None) -> dict[str, Any]:
    return {"answer_path": path, "latency_ms": latency, "error": error}


def eval_run(cases: list[dict[str, Any]], **summary: Any) -> dict[str, Any]:
    base = {
        "cases": len(cases), "errors": 0, "key_fact_recall": 0.625,
        "citation_precision": 0.9, "forbidden_fact_rate": 0.0, "cross_customer_leaks": 0,
        "invented_statuses": 1, "handoff_accuracy": 0.75,
        "answer_paths": {"quoted": 0.75, "order_status": 0.25},
        "first_token_ms": {"p50": 40.0, "p95": 90.0}, "ttft_ms": None,
        "latency_ms": {"p50": 999.0, "p95": 999.0}, "model_calls": 0,
        "prefill_tokens_per_call": 0.0, "reused_tokens_per_call": 0.0,
    }  # fmt: skip
    return {"model": "m", "chunk_tokens": 64, "summary": {**base, **summary}, "cases": cases}


def test_a_row_holds_the_runs_figures_and_the_latency_of_answers_from_the_articles() -> None:
    run = eval_run([
        case("quoted", 50.0), case("order_status", 5000.0), case("quoted", 70.0),
        case("generated+repaired", 90.0), case("quoted", 9000.0, error="boom"),
    ])  # fmt: skip

    row = bench_row("smollm2-135m:q8_0", "quote", "test", run)

    assert row["answer_latency_ms"] == {"p50": 70.0, "p95": 88.0}  # not the order status turn
    assert (row["model"], row["setting"], row["split"], row["cases"]) == (
        "smollm2-135m:q8_0", "quote", "test", 5,
    )  # fmt: skip
    assert row["key_fact_recall"] == 0.625
    assert row["invented_statuses"] == 1
    assert row["first_token_ms"] == {"p50": 40.0, "p95": 90.0}
    assert row["model_ttft_ms"] is None
    assert row["answer_paths"] == {"quoted": 0.75, "order_status": 0.25}
    assert row["model_calls"] == 0


def plan(settings: list[str], splits: list[str], limit: int) -> BenchPlan:
    return BenchPlan(
        models=[("m1", Path("m1.gguf")), ("m2", Path("m2.gguf"))],
        settings=pick_settings(settings),
        cases=split_cases(GOLDEN, splits, limit),
    )


class FakeEvaluate:
    """Records each call's settings; fails for one (model, answer mode) if told to."""

    def __init__(self, fail: tuple[str, str] | None = None) -> None:
        self.calls: list[tuple[str, Settings, list[str]]] = []
        self.fail = fail

    def __call__(self, settings: Settings, cases: list[GoldenCase], models: list[Any],
                 sizes: list[int], *, progress: Any) -> dict[str, Any]:  # fmt: skip
        [(name, _)] = models
        self.calls.append((name, settings, [c.id for c in cases]))
        progress(cases[0].id, True)
        if (name, settings.assistant.answer_mode) == self.fail:
            raise RuntimeError("engine died")
        run = eval_run([case("quoted", 10.0)] * len(cases), model_calls=len(self.calls))
        return {"runs": [run]}


def test_the_bench_runs_every_model_setting_and_split_with_its_overrides() -> None:
    fake = FakeEvaluate()
    said: list[tuple[str, bool]] = []
    the_plan = plan(["quote", "generate-no-prefix"], ["test", "dev"], 2)

    results = list(run_bench(Settings(), the_plan, lambda t, s: said.append((t, s)), fake))

    rows = [row for row, _ in results]
    assert [(r["model"], r["setting"], r["split"]) for r in rows] == [
        ("m1", "quote", "test"), ("m1", "quote", "dev"),
        ("m1", "generate-no-prefix", "test"), ("m1", "generate-no-prefix", "dev"),
        ("m2", "quote", "test"), ("m2", "quote", "dev"),
        ("m2", "generate-no-prefix", "test"), ("m2", "generate-no-prefix", "dev"),
    ]  # fmt: skip
    modes = [(s.assistant.answer_mode, s.engine.prefix_cache) for _, s, _ in fake.calls]
    assert modes == [("quote", True)] * 2 + [("generate", False)] * 2 + [
        ("quote", True)] * 2 + [("generate", False)] * 2  # fmt: skip
    assert [ids for _, _, ids in fake.calls[:2]] == [
        [c.id for c in the_plan.cases["test"]],
        [c.id for c in the_plan.cases["dev"]],
    ]
    assert said[0] == (f"quote, test: {the_plan.cases['test'][0].id}", True)
    assert the_plan.total_cases == 2 * 2 * 4
    _, run = results[0]
    assert (run["model"], run["setting"], run["split"]) == ("m1", "quote", "test")
    assert len(run["cases"]) == 2  # every case of the run is kept beside its row


def test_a_run_that_fails_is_a_row_with_its_error_and_the_bench_goes_on() -> None:
    fake = FakeEvaluate(fail=("m1", "generate"))

    rows = [row for row, _ in run_bench(Settings(), plan(["generate", "quote"], ["test"], 1),
                                        lambda t, s: None, fake)]  # fmt: skip

    assert [(r["model"], r["setting"], "error" in r) for r in rows] == [
        ("m1", "generate", True), ("m1", "quote", False),
        ("m2", "generate", False), ("m2", "quote", False),
    ]  # fmt: skip
    assert rows[0]["error"] == "RuntimeError('engine died')"
    assert "error: RuntimeError('engine died')" in markdown_table(rows)


def test_the_report_on_disk_keeps_the_rows_finished_before_an_interrupt(tmp_path: Path) -> None:
    out = tmp_path / "assistant.json"
    the_plan = plan(["quote", "generate"], ["test"], 1)
    book = BenchReport(the_plan, out)

    def interrupted() -> Any:
        results = run_bench(Settings(), the_plan, lambda t, s: None, FakeEvaluate())
        yield next(results)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        book.record(interrupted())

    document = json.loads(out.read_text())
    assert [(r["model"], r["setting"]) for r in document["rows"]] == [("m1", "quote")]
    assert document["settings"]["generate"]["overrides"] == {"assistant.answer_mode": "generate"}
    assert document["splits"] == {"test": 1}
    assert document["models"] == ["m1", "m2"]
    assert [p.name for p in tmp_path.iterdir()] == ["assistant.json"]  # no temporary left


def test_the_markdown_table_has_a_line_per_row_under_its_header() -> None:
    run = eval_run([case("quoted", 50.0), case("quoted", 70.0)],
                   prefill_tokens_per_call=325.94, reused_tokens_per_call=108.4,
                   ttft_ms={"p50": 812.4, "p95": 1500.0})  # fmt: skip
    rows = [bench_row("m", "generate", "dev", run)]

    lines = markdown_table(rows).splitlines()

    assert lines[0].startswith("| model | setting | split | cases | key facts |")
    assert lines[1].startswith("|---|---|---|---:|")
    assert len(lines) == 3
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells[:10] == ["m", "generate", "dev", "2", "62.5%", "90.0%", "0.0%", "0", "1", "75.0%"]
    assert cells[10:14] == ["40 / 90", "60 / 69", "812 / 1500", "326 / 108"]
    assert cells[14] == "quoted 75%, order_status 25%"
    assert lines[0].count("|") == lines[1].count("|") == lines[2].count("|")


# -- the command's refusals, before anything runs ----------------------------------------------


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--settings", "quote,generate-fast"], "error: unknown setting 'generate-fast'; known:"),
        (["--models", "smollm2-135m"], "error: model smollm2-135m is not pulled; run `switchb"),
        (["--models", "gpt-17"], "error: The model 'gpt-17' does not exist."),
        (["--splits", "dev,tset"], "error: --splits: unknown split 'dev,tset'; known: dev, test"),
        (["--json", "no/such/dir/a.json"], "error: --json: no such folder no/such/dir"),
        (["--markdown", "no/such/dir/a.md"], "error: --markdown: no such folder no/such/dir"),
    ],
)
def test_a_bad_option_is_one_line_before_any_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], reason: str
) -> None:
    from typer.testing import CliRunner

    from switchboard.cli import app

    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path))  # no model pulled there
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "bench.json"

    result = CliRunner().invoke(app, ["bench", "assistant", "--json", str(out), *args])

    assert result.exit_code == 1
    assert result.output.startswith(reason)
    assert result.output.count("\n") == 1
    assert not out.exists()
