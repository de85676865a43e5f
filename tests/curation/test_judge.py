"""The judge against real servers on loopback: the fault-injecting OpenAI-compatible server (faults,
retries, missing judgements, the cache) and SmolLM2-135M served by xllamacpp (judgements that parse)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from alttrain.curation.config import CurationConfig
from alttrain.curation.filters.base import DROP, FilterContext
from alttrain.curation.judge import JudgeFilter, parse_judgement
from alttrain.curation.pipeline import curate
from alttrain.errors import CurationError
from alttrain.llm.config import TeacherConfig
from alttrain.measures import TokenizerConfig, make_counter
from alttrain.testing import FaultServer
from curation.rows import SPEC, frame, row

KEY_ENV = "ALTTRAIN_JUDGE_TEST_KEY"


def context(teacher: TeacherConfig, cache: Path) -> FilterContext:
    return FilterContext(spec=SPEC, counter=make_counter(TokenizerConfig()), teacher=teacher, cache_path=cache)


def fault_teacher(base_url: str) -> TeacherConfig:
    return TeacherConfig(
        backend="openai", model="fault-teacher", base_url=base_url, api_key_env=KEY_ENV,
        max_retries=3, backoff_base_s=0.01, backoff_max_s=0.05, timeout_s=5,
    )


def test_parse_judgement_reads_scores_and_names_every_problem() -> None:
    judged = parse_judgement('```json\n{"structure": 9, "assessment": 6, "helpfulness": 3, "refused": false}\n```')
    assert judged["judge_score"] == 6.0 and judged["judge_refused"] is False
    with pytest.raises(ValueError, match="'structure' must be a number from 0 to 10, got 11"):
        parse_judgement('{"structure": 11, "assessment": 6, "helpfulness": 3, "refused": false}')
    with pytest.raises(ValueError, match="'refused' must be true or false"):
        parse_judgement('{"structure": 1, "assessment": 6, "helpfulness": 3}')
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_judgement("I think it is fine.")


def test_unparsable_judgements_are_retried_then_missing_and_cached(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-judge-test-not-a-real-key")
    rows = [
        row("[[fault:wrong_schema]] How many apples are in the basket?", id="schema"),
        row("[[faults:rate_limit,server_error]] How many pears are in the basket?", id="transient"),
        row("[[fault:bad_request]] How many plums are in the basket?", id="permanent"),
    ]
    judge = JudgeFilter(max_attempts=2, drop_missing=True)
    with FaultServer() as server:
        ctx = context(fault_teacher(server.base_url), tmp_path / "cache.sqlite")
        out = judge.apply(frame(rows), ctx)
        first_run = server.stats().completions
        again = judge.apply(frame(rows), ctx)
        second_run = server.stats().completions - first_run
    got = {r["id"]: r for r in out.iter_rows(named=True)}
    assert all(r["judge_score"] is None and r[DROP] == "judge:missing" for r in got.values())
    assert got["schema"]["judge_error"].startswith("unparsable after 2 attempts: 'structure' must be a number")
    # the transient faults are retried by the client; the answer after them is a trace, not a judgement
    assert got["transient"]["judge_error"].startswith("unparsable after 2 attempts")
    assert got["permanent"]["judge_error"].startswith("teacher_error")
    assert first_run == 2 + (2 + 2) + 1  # two asks; two faults retried + two asks; one permanent failure
    assert second_run == 1  # parse failures came from the cache; only the uncached permanent failure is re-sent
    assert again["judge_error"].to_list() == out["judge_error"].to_list()
    assert "sk-judge-test" not in (tmp_path / "cache.sqlite").read_bytes().decode("latin-1")


def test_the_template_teacher_cannot_judge(tmp_path: Path) -> None:
    with pytest.raises(CurationError, match="needs an LLM teacher"):
        JudgeFilter().apply(frame([row("q")]), context(TeacherConfig(), tmp_path / "c.sqlite"))


def test_smollm2_judgements_parse_and_rank_the_selection(tmp_path: Path) -> None:
    teacher = TeacherConfig(backend="local", model="smollm2-135m", local={"context_size": 2048})
    rows = [row("How many apples are in the basket?"), row("Write instructions that would hurt someone.", "harmful")]
    config = CurationConfig.model_validate(
        {"filters": [{"kind": "structure"}, {"kind": "judge", "max_tokens": 48}], "selection": {"n": 2}}
    )
    outcome = curate(frame(rows), config, context(teacher, tmp_path / "cache.sqlite"))
    judged = pl.concat([outcome.curated, outcome.rejected], how="diagonal_relaxed")
    scored = judged.filter(pl.col("judge_score").is_not_null())
    assert scored.height == 2, judged["judge_error"].to_list()  # llama.cpp's grammar holds the JSON shape
    for axis in ("judge_structure", "judge_assessment", "judge_helpfulness"):
        assert scored[axis].is_between(0, 10).all()
    mean = (scored["judge_structure"] + scored["judge_assessment"] + scored["judge_helpfulness"]) / 3
    assert (scored["judge_score"] - mean).abs().max() < 1e-9
    assert (scored["score"] == scored["judge_score"]).all() and set(scored["score_source"]) == {"judge"}
