"""The batch executor against the fault server's Batch API: the same rows as online, batch faults, keys, vLLM files."""

import asyncio
import json
import re
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from alttrain.config import parse_config
from alttrain.errors import BatchError, ConfigError, MissingInputError
from alttrain.execution.base import Execution
from alttrain.execution.batch.executor import BatchExecutor, Files
from alttrain.execution.batch.state import BatchAccounting
from alttrain.llm.cache import ResponseCache
from alttrain.llm.config import TeacherConfig
from alttrain.prompt_sets.builtin import HarmBenchSource, ReasoningGymSource
from alttrain.records import SYNTHESIZED_SCHEMA, conform, record_id, write_stage
from alttrain.sources.pool import PromptsConfig, build_prompt_pool
from alttrain.structure import StructureSpec
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.engine import synthesize_cached
from alttrain.synthesis.job import SynthesisJob
from alttrain.synthesis.stage import run_synthesis
from alttrain.testing import BatchFault, FaultPlan, FaultServer, teacher_config
from alttrain.testing.answers import BENIGN_TRACE

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


@dataclass(frozen=True)
class Batched:
    """The synthesis job run by the batch executor: the rows built so far, and what the executor returned."""

    frame: pl.DataFrame
    execution: Execution

    @property
    def accounting(self) -> BatchAccounting:
        assert self.execution.batches is not None
        return self.execution.batches


def settings(teacher: TeacherConfig, batch: dict = BATCH, **synthesis: object) -> SynthesisConfig:
    executor = {"kind": "batch", **batch}
    return SynthesisConfig.model_validate({"teacher": teacher.model_dump(), "executor": executor, **synthesis})


def batched(prompts: pl.DataFrame, config: SynthesisConfig, run_dir: Path, files: Files | None = None) -> Batched:
    """One invocation of the batch executor over the synthesis job (``files``: --export or --ingest)."""
    assert isinstance(config.executor, BatchExecutor.settings_class)
    with ResponseCache(run_dir / "cache.sqlite") as cache:
        execution = BatchExecutor(config.executor, run_dir, files=files).run(
            prompts.to_dicts(), SynthesisJob(config, SPEC), cache)
    rows = [row for row in execution.rows if row is not None]
    return Batched(pl.DataFrame(rows, schema=SYNTHESIZED_SCHEMA), execution)


def batch_run(prompts: pl.DataFrame, teacher: TeacherConfig, run_dir: Path, **synthesis: object) -> Batched:
    return batched(prompts, settings(teacher, **synthesis), run_dir)


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
    frame = run.frame
    assert frame.height == prompts.height and set(frame["status"]) == {"ok", "quarantined"}
    quarantined = frame.filter(pl.col("status") == "quarantined")
    assert quarantined["reason"].str.contains(r"^(teacher_error|invalid_trace): ").all()
    assert reason_kind(frame).sort("id").equals(reason_kind(expected).sort("id"))
    assert batch_bodies == online_bodies  # every request body exactly as the openai backend sends it online
    assert stats.completions == 0 and stats.batches_created == len(state(tmp_path / "run")["batches"]) == 3
    accounting = run.accounting
    assert accounting.requests == stats.batch_lines == run.execution.requests_sent
    assert accounting.prompt_tokens == frame["prompt_tokens"].sum() > 0  # each answer is one attempt of one row
    assert (accounting.discount, accounting.discount_source) == (0.5, "assumed")
    refused = frame.filter(pl.col("prompt") == "refused [[fault:bad_request]]").row(0, named=True)
    assert refused["reason"].startswith("teacher_error: HTTP 400: injected bad_request") and refused["attempts"] == 0


def test_online_runs_and_reparse_hit_the_answers_a_batch_cached(tmp_path: Path) -> None:
    prompts = pl.concat([pool(), stand_ins("repaired [[faults:empty]]", "resent [[faults:server_error]]")])
    run_dir = tmp_path / "run"
    with FaultServer() as server:
        built = batch_run(prompts, teacher_config(server.base_url), run_dir).frame
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
    frame = run.frame
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
    assert set(run.frame["status"]) == {"ok"}
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
    assert frame.frame["reason"].to_list() == [
        "teacher_error: batch batch_2 failed: invalid_request: injected validation failure"] * 2
    assert state(tmp_path)["failures"] and not state(tmp_path)["finished"]


def test_the_key_never_reaches_the_run_directory_or_the_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-alttrain-batch-5ecret-value"
    monkeypatch.setenv("ALTTRAIN_TEST_KEY", secret)
    prompts = stand_ins("fine", "refused [[fault:bad_request]]")  # the service echoes the key in its error
    with FaultServer(FaultPlan(api_key=secret, record_requests=True)) as server:
        teacher = teacher_config(server.base_url, api_key_env="ALTTRAIN_TEST_KEY")
        frame = batch_run(prompts, teacher, tmp_path).frame
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
    for number, text in enumerate(source.read_bytes().decode().split("\n")[:-1]):  # lines end at line feeds only
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
    target.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))  # raw UTF-8, as vLLM


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


def test_the_batch_executor_needs_a_teacher_backend_with_a_batch_api() -> None:
    prompts = {"sources": [{"kind": "harmbench", "n": 1}]}
    refused = r"synthesis: .*executor batch: needs a teacher backend with a Batch API, not 'templ"
    with pytest.raises(ConfigError, match=refused):
        parse_config({"prompts": prompts, "synthesis": {"executor": {"kind": "batch"}}})
    with pytest.raises(ConfigError, match=refused), pytest.warns(FutureWarning, match="synthesis.batch: is deprec"):
        parse_config({"prompts": prompts, "synthesis": {"batch": {}}})


# every string str.splitlines (and httpx's line iterator) ends a line at; JSON Lines ends lines at "\n" only
LINE_BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@st.composite
def broken_text(draw: st.DrawFn) -> str:
    """Words with every line-break character between them, in a drawn order."""
    breaks = draw(st.permutations(LINE_BREAKS))
    words = draw(st.lists(st.text("abcé中 ", min_size=1, max_size=5).map(lambda w: f"w{w}w"),
                          min_size=len(breaks) + 1, max_size=len(breaks) + 1))
    return words[0] + "".join(b + w for b, w in zip(breaks, words[1:], strict=True))


def exported_and_ingested(
    prompts: pl.DataFrame, teacher: TeacherConfig, run_dir: Path, server: FaultServer
) -> Batched:
    """``--export``, `vllm run-batch` against the server, then ``--ingest``, until nothing is pending."""
    config = settings(teacher)
    run = batched(prompts, config, run_dir, files="export")
    while run.execution.pending_requests:
        assert run.execution.pending_file is not None
        vllm_run_batch(server, run.execution.pending_file, run_dir / "batch" / "vllm_output.jsonl")
        run = batched(prompts, config, run_dir, files="ingest")
    return run


@settings_(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompt=broken_text(), reply=broken_text(), reasoning=broken_text())
def test_every_line_break_character_survives_export_ingest_and_the_batch_api(
    tmp_path_factory: pytest.TempPathFactory, prompt: str, reply: str, reasoning: str
) -> None:
    """Prompts, traces (reasoning channel) and replies holding each one: rows as online, on both batch paths."""
    folder = tmp_path_factory.mktemp("breaks")
    trace = {**asdict(BENIGN_TRACE), "reasoning": f"Steps: {reply}", "answer": reply}
    plan = FaultPlan(replies={"r": json.dumps(trace, ensure_ascii=False)}, reasoning_content=reasoning)
    prompts = stand_ins(f"{prompt} [[reply:r]]", f"plain {prompt}")
    with FaultServer(plan) as server:
        expected = online(prompts, teacher_config(server.base_url), folder / "online.sqlite")
    with FaultServer(plan) as server:
        api = batch_run(prompts, teacher_config(server.base_url), folder / "api")
    with FaultServer(plan) as server:
        files = exported_and_ingested(prompts, teacher_config(server.base_url), folder / "files", server)
    assert set(expected["status"]) == {"ok"} and reply in expected["answer"][0]
    assert api.frame.equals(expected) and files.frame.equals(expected)
    assert api.accounting.requests == files.accounting.requests == 2  # each request went out once: no line broke


def test_an_output_file_id_that_is_a_path_is_refused_and_never_a_file_name(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    refused = pytest.raises(BatchError, match=r"returned file id '/.*outside', which is not an id")
    with FaultServer(FaultPlan(output_file_id=str(outside))) as server, refused:
        batch_run(stand_ins("fine"), teacher_config(server.base_url), tmp_path / "run")
    assert not any(path.name.startswith("outside") for path in tmp_path.iterdir())
    with FaultServer() as server:
        batch_run(stand_ins("fine", "repaired [[faults:empty]]"), teacher_config(server.base_url), tmp_path / "ok")
    names = sorted(path.name for path in (tmp_path / "ok" / "batch").iterdir())
    assert [re.sub("[0-9a-f]{16}", "HASH", name) for name in names] == [
        "round-001-output-HASH.jsonl", "round-001.jsonl", "round-002-output-HASH.jsonl", "round-002.jsonl"]


def test_a_wrongly_typed_or_foreign_line_is_refused_with_its_reason_and_sent_again(tmp_path: Path) -> None:
    prompts = stand_ins("typed [[faults:wrong_types]]", "foreign once [[faults:other_model]]",
                        "foreign always [[fault:other_model]]", "fine")
    with FaultServer() as server:
        frame = batch_run(prompts, teacher_config(server.base_url), tmp_path).frame
        assert server.stats().batch_lines == 4 + 3 + 1  # the always foreign one went 1 + max_resubmits times
    assert frame["status"].to_list() == ["ok", "ok", "quarantined", "ok"]
    assert frame["reason"][2] == "teacher_error: answered by model 'some-other-model', not 'fault-teacher'"
    first = state(tmp_path)["batches"][0]
    assert (first["answered"], first["failed"]) == (1, 3)
    assert first["errors"] == [
        "2 foreign lines refused (first: answered by model 'some-other-model', not 'fault-teacher')",
        "1 unusable lines refused (first: usage.prompt_tokens is 'n/a', not a whole number)"]
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        assert len(cache) == 3  # no foreign or unusable answer was cached


def test_an_answer_from_a_dated_snapshot_or_a_listed_model_is_taken(tmp_path: Path) -> None:
    prompts = stand_ins("foreign [[fault:other_model]]")
    with FaultServer() as server:
        teacher = teacher_config(server.base_url)
        frame = batch_run(prompts, teacher, tmp_path, batch={**BATCH, "answer_models": ["some-other-model"]})
    assert frame.frame["status"].to_list() == ["ok"]


def test_rounds_are_counted_as_rounds_and_a_spent_limit_quarantines(tmp_path: Path) -> None:
    once = {"max_repair_attempts": 0, "batch": {**BATCH, "max_resubmits": 1}}
    with FaultServer() as server:
        failing = batch_run(stand_ins("down [[fault:server_error]]"), teacher_config(server.base_url),
                            tmp_path / "once", **once)
    assert failing.frame["reason"][0].startswith("teacher_error: HTTP 500: injected server_error")
    assert failing.accounting.rounds == 2

    slowest = ",".join(["server_error", "server_error", "empty"] * 2 + ["server_error", "server_error"])
    with FaultServer() as server:  # the defaults allow (1 + 2 repairs) x (1 + 2 resubmits) = 9 rounds
        longest = batch_run(stand_ins(f"slow [[faults:{slowest}]]"), teacher_config(server.base_url), tmp_path / "9")
    assert longest.frame["status"].to_list() == ["ok"] and longest.accounting.rounds == 9

    with FaultServer() as server:
        limited = batch_run(stand_ins("repaired [[faults:empty]]", "fine"), teacher_config(server.base_url),
                            tmp_path / "limited", batch={**BATCH, "max_rounds": 1})
    assert limited.frame["status"].to_list() == ["quarantined", "ok"]
    assert limited.frame["reason"][0] == (
        "teacher_error: no answer within 1 batch rounds (synthesis.batch.max_rounds, by default "
        "(1 + max_repair_attempts) x (1 + max_resubmits))")
    assert limited.accounting.rounds == 1
