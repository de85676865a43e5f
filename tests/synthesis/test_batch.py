"""The batch teacher against the fault server's Batch API: the same rows as online, batch faults, keys, vLLM files."""

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path

import polars as pl
import pytest

from alttrain.config import parse_config
from alttrain.errors import ConfigError, MissingInputError
from alttrain.llm.cache import ResponseCache
from alttrain.llm.config import TeacherConfig
from alttrain.records import conform, record_id, write_stage
from alttrain.sources.builtin import HarmBenchSource, ReasoningGymSource
from alttrain.sources.pool import PromptsConfig, build_prompt_pool
from alttrain.structure import StructureSpec
from alttrain.synthesis.batch import synthesize_in_batches
from alttrain.synthesis.batch_rounds import BatchRun
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.engine import synthesize_cached
from alttrain.synthesis.stage import run_synthesis
from alttrain.testing import BatchFault, FaultPlan, FaultServer, teacher_config

SPEC = StructureSpec()
BATCH = {"poll_interval_s": 0.02}
REPAIRED = ["wrong_schema", "refusal_junk", "empty", "wrong_verdict", "cut_off"]  # answered, then repaired
RESENT = ["server_error", "rate_limit", "truncated", "hang", "malformed_json", "no_choices"]  # unanswered once


def pool() -> pl.DataFrame:
    config = PromptsConfig(sources=[HarmBenchSource(n=3), ReasoningGymSource(size=3, seed=1)])
    return build_prompt_pool(config)[0]


def stand_ins(*prompts: str, label: str = "benign") -> pl.DataFrame:
    rows = [{"id": record_id("test", p), "prompt": p, "label": label, "category": "test", "source": "test",
             "license": "none"} for p in prompts]
    return conform(pl.DataFrame(rows), "prompts")


def settings(teacher: TeacherConfig, **synthesis: object) -> SynthesisConfig:
    return SynthesisConfig.model_validate({"teacher": teacher.model_dump(), "batch": BATCH, **synthesis})


def batch_run(prompts: pl.DataFrame, teacher: TeacherConfig, run_dir: Path, **synthesis: object) -> BatchRun:
    config = settings(teacher, **synthesis)
    return asyncio.run(synthesize_in_batches(prompts, config, SPEC, run_dir, run_dir / "cache.sqlite"))


def online(prompts: pl.DataFrame, teacher: TeacherConfig, cache: Path, offline: bool = False) -> pl.DataFrame:
    config = SynthesisConfig.model_validate({"teacher": teacher.model_dump()})
    return asyncio.run(synthesize_cached(prompts, config, SPEC, cache, offline=offline)).frame


def state(run_dir: Path) -> dict:
    return json.loads((run_dir / "batches.json").read_text())


def reason_kind(frame: pl.DataFrame) -> pl.DataFrame:
    """Teacher-error reasons cut to ``teacher_error: HTTP <status>`` (the provider's words after it differ)."""
    cut = pl.col("reason").str.extract(r"^(teacher_error: HTTP \d+)")
    return frame.with_columns(pl.when(cut.is_not_null()).then(cut).otherwise(pl.col("reason")).alias("reason"))


def test_batch_rows_equal_the_online_rows_for_the_same_prompts_and_faults(tmp_path: Path) -> None:
    markers = [f"Q {kind} [[faults:{kind}]]" for kind in REPAIRED + RESENT]
    prompts = pl.concat([pool(), stand_ins(*markers, "junk [[fault:refusal_junk]]", "refused [[fault:bad_request]]")])
    with FaultServer(FaultPlan(record_requests=True)) as server:
        expected = online(prompts, teacher_config(server.base_url, timeout_s=0.5), tmp_path / "online.sqlite")
        online_bodies = {json.dumps(r.body, sort_keys=True) for r in server.recorded()}
    with FaultServer(FaultPlan(record_requests=True)) as server:
        run = batch_run(prompts, teacher_config(server.base_url), tmp_path / "run", max_repair_attempts=2)
        stats, batch_bodies = server.stats(), {json.dumps(r.body, sort_keys=True) for r in server.recorded()}
    frame = run.outcome.frame
    assert frame.height == prompts.height and set(frame["status"]) == {"ok", "quarantined"}
    quarantined = frame.filter(pl.col("status") == "quarantined")
    assert quarantined["reason"].str.contains(r"^(teacher_error|invalid_trace): ").all()
    assert reason_kind(frame).sort("id").equals(reason_kind(expected).sort("id"))
    assert batch_bodies == online_bodies  # every request body exactly as the openai backend sends it online
    assert stats.completions == 0 and stats.batches_created == len(state(tmp_path / "run")["batches"]) == 3
    accounting = run.accounting
    assert accounting.requests == stats.batch_lines == run.submitted
    assert accounting.prompt_tokens == frame["prompt_tokens"].sum() > 0  # each answer is one attempt of one row
    assert (accounting.discount, accounting.discount_source) == (0.5, "assumed")
    refused = frame.filter(pl.col("prompt") == "refused [[fault:bad_request]]").row(0, named=True)
    assert refused["reason"].startswith("teacher_error: HTTP 400: injected bad_request") and refused["attempts"] == 0


def test_online_runs_and_reparse_hit_the_answers_a_batch_cached(tmp_path: Path) -> None:
    prompts = pl.concat([pool(), stand_ins("repaired [[faults:empty]]", "resent [[faults:server_error]]")])
    run_dir = tmp_path / "run"
    with FaultServer() as server:
        built = batch_run(prompts, teacher_config(server.base_url), run_dir).outcome.frame
        reparsed = online(prompts, teacher_config(server.base_url), run_dir / "cache.sqlite", offline=True)
        rerun = online(prompts, teacher_config(server.base_url), run_dir / "cache.sqlite")
        assert server.stats().completions == 0
    assert reparsed.equals(built) and rerun.equals(built)
    assert set(built["status"]) == {"ok"}


@pytest.mark.parametrize(
    ("fault", "round_one"),
    [
        (BatchFault.FAIL_VALIDATION, {"status": "failed", "answered": 0, "unanswered": 6}),
        (BatchFault.EXPIRE, {"status": "expired", "answered": 3, "unanswered": 3}),
        (BatchFault.ERROR_LINES, {"status": "completed", "answered": 3, "failed": 3}),
        (BatchFault.OUT_OF_ORDER, {"status": "completed", "answered": 6, "failed": 0}),
    ],
)
def test_a_batch_fault_is_reported_and_its_unanswered_requests_resubmitted(
    tmp_path: Path, fault: BatchFault, round_one: dict
) -> None:
    prompts = stand_ins(*(f"neutral question {i}" for i in range(6)))
    with FaultServer(FaultPlan(batch_faults={1: fault})) as server:
        run = batch_run(prompts, teacher_config(server.base_url), tmp_path)
        stats = server.stats()
    frame = run.outcome.frame
    assert set(frame["status"]) == {"ok"} and frame["attempts"].to_list() == [1] * 6
    rounds = state(tmp_path)["batches"]
    assert {name: rounds[0][name] for name in round_one} == round_one
    resubmitted = 6 - round_one["answered"]
    assert [r["requests"] for r in rounds] == [6] + ([resubmitted] if resubmitted else [])
    assert stats.batches_created == len(rounds) and stats.batch_lines == 6  # each request was answered once
    if fault == BatchFault.FAIL_VALIDATION:
        assert rounds[0]["errors"] == ["invalid_request: injected validation failure"]
        assert rounds[1]["resubmitted"] == 6


def test_a_round_over_the_limits_goes_out_as_several_batches(tmp_path: Path) -> None:
    prompts = stand_ins(*(f"neutral question {i}" for i in range(9)), "repaired [[faults:empty]]")
    with FaultServer() as server:
        run = batch_run(prompts, teacher_config(server.base_url), tmp_path, batch={**BATCH, "max_requests": 4})
        assert server.stats().batches_created == 4 and server.stats().batch_lines == 11
    assert set(run.outcome.frame["status"]) == {"ok"}
    batches = state(tmp_path)["batches"]
    assert [(b["round"], b["part"], b["parts"], b["requests"]) for b in batches] == [
        (1, 1, 3, 4), (1, 2, 3, 4), (1, 3, 3, 2), (2, 1, 1, 1)]
    assert [b["input_file"] for b in batches][:2] == ["batch/round-001-part-1.jsonl", "batch/round-001-part-2.jsonl"]
    assert run.accounting.rounds == 2 and run.accounting.batches == 4


def test_a_batch_that_keeps_failing_quarantines_its_rows_after_the_resubmits(tmp_path: Path) -> None:
    prompts = stand_ins("first", "second")
    failing = dict.fromkeys(range(1, 10), BatchFault.FAIL_VALIDATION)
    with FaultServer(FaultPlan(batch_faults=failing)) as server:
        frame = batch_run(prompts, teacher_config(server.base_url), tmp_path, batch={**BATCH, "max_resubmits": 1})
        assert server.stats().batches_created == 2  # the first submission and one resubmission
    assert frame.outcome.frame["reason"].to_list() == [
        "teacher_error: batch batch_2 failed: invalid_request: injected validation failure"] * 2
    assert state(tmp_path)["failures"] and not state(tmp_path)["finished"]


def test_the_key_never_reaches_the_run_directory_or_the_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-alttrain-batch-5ecret-value"
    monkeypatch.setenv("ALTTRAIN_TEST_KEY", secret)
    prompts = stand_ins("fine", "refused [[fault:bad_request]]")  # the service echoes the key in its error
    with FaultServer(FaultPlan(api_key=secret, record_requests=True)) as server:
        teacher = teacher_config(server.base_url, api_key_env="ALTTRAIN_TEST_KEY")
        frame = batch_run(prompts, teacher, tmp_path).outcome.frame
        assert {r.authorization for r in server.recorded()} == {f"Bearer {secret}"}
    assert frame["status"].to_list() == ["ok", "quarantined"]
    assert (tmp_path / "batch").is_dir() and (tmp_path / "batches.json").exists()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert not any(secret in str(value) for row in frame.rows() for value in row)


def vllm_run_batch(server: FaultServer, source: Path, target: Path) -> None:
    """What `vllm run-batch -i source -o target` does, with the fault server's chat endpoint as the model."""
    lines = []
    for number, text in enumerate(source.read_text().splitlines()):
        line = json.loads(text)
        assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
        request = urllib.request.Request(f"{server.base_url}/chat/completions", json.dumps(line["body"]).encode(),
                                         {"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, body = answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            status, body = error.code, json.loads(error.read())
        lines.append({"id": f"vllm-{number}", "custom_id": line["custom_id"],
                      "response": {"status_code": status, "request_id": f"vllm-batch-{number}", "body": body},
                      "error": None})
    target.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_export_then_vllm_run_batch_then_ingest_builds_the_online_rows(tmp_path: Path) -> None:
    prompts = pl.concat([pool(), stand_ins("repaired [[faults:wrong_schema]]", "resent [[faults:server_error]]")])
    run_dir = tmp_path / "run"
    write_stage(prompts, run_dir / "prompts.parquet", "prompts")
    with FaultServer() as server:
        expected = online(prompts, teacher_config(server.base_url), tmp_path / "online.sqlite")
    with FaultServer() as server:
        synthesis = {"teacher": teacher_config(server.base_url).model_dump()}
        config = parse_config({"prompts": {"sources": [{"kind": "harmbench", "n": 1}]}, "synthesis": synthesis})
        with pytest.raises(ConfigError, match="cannot be combined"):
            run_synthesis(config, run_dir, reparse=True, export=True)
        assert run_synthesis(config, run_dir, export=True).pending_requests == prompts.height
        run_batch = "`VLLM_NO_USAGE_STATS=1 python -m vllm.entrypoints.openai.run_batch -i "
        with pytest.raises(MissingInputError, match=r"vllm_output.jsonl: not found; run " + re.escape(run_batch)):
            run_synthesis(config, run_dir, ingest=True)
        rounds = 0
        result = run_synthesis(config, run_dir, export=True)  # the same requests: the same round, not a new one
        while result.pending_requests:
            assert result.rows + result.pending_rows == prompts.height
            assert not (run_dir / "synthesized.parquet").exists()
            vllm_run_batch(server, run_dir / "batch" / "vllm_input.jsonl", run_dir / "batch" / "vllm_output.jsonl")
            result, rounds = run_synthesis(config, run_dir, ingest=True), rounds + 1
        assert server.stats().batches_created == 0 and rounds == 2  # the repair and the resend: a second round
    frame = pl.read_parquet(run_dir / "synthesized.parquet")
    assert frame.sort("id").equals(expected.sort("id"))
    assert result.batch is not None and result.batch.discount is None and result.batch.rounds == 2
    assert [r["mode"] for r in state(run_dir)["batches"]] == ["file", "file"] and state(run_dir)["finished"]
    with ResponseCache(run_dir / "cache.sqlite") as cache:
        assert len(cache) == prompts.height + 1  # one answer per prompt, plus the repaired reply


def test_a_batch_section_needs_the_openai_backend() -> None:
    with pytest.raises(ConfigError, match=r"synthesis: .*batch: needs teacher.backend 'openai'"):
        parse_config({"prompts": {"sources": [{"kind": "harmbench", "n": 1}]}, "synthesis": {"batch": {}}})
