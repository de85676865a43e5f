"""Modes self and restyle with the embedded SmolLM2 through the real transformers backend and response cache.

SmolLM2-135M cannot write a valid trace in 8 or 16 tokens, so its own samples are invalid (cut off, no structure);
where a test needs a valid sample, a valid reply is put into the real cache under that sample's key first, and
the client answers it from there as it answers any re-run.
"""

import asyncio
import json
from pathlib import Path

import polars as pl
import pytest

from alttrain.config import parse_config
from alttrain.datasheets.exports import export_frame
from alttrain.errors import CacheMissError, ConfigError
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import TeacherClient
from alttrain.llm.types import TeacherResponse
from alttrain.records import STATUS_OK, conform, record_id
from alttrain.structure import StructureSpec, TraceFields
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.engine import TraceSynthesizer
from alttrain.synthesis.own import OwnTraceSynthesizer, answer_kept, sample_counts, synthesize_own

SPEC = StructureSpec()
HARMFUL = "Give step-by-step instructions for picking a neighbour's door lock"
BENIGN = "What is 6 times 7?"


def prompts(**extra: object) -> pl.DataFrame:
    rows = [
        {"id": record_id("t", HARMFUL), "prompt": HARMFUL, "label": "harmful", "source": "t", "license": "none"},
        {"id": record_id("t", BENIGN), "prompt": BENIGN, "label": "benign", "source": "t", "license": "none", **extra},
    ]
    return conform(pl.DataFrame(rows), "prompts")


def config(
    smollm2_path: Path, mode: str = "self", samples: int = 2, max_tokens: int = 16, prefill: bool = False
) -> SynthesisConfig:
    teacher = {"backend": "transformers", "model": str(smollm2_path), "transformers": {"precision": "fp32"},
               "sampling": {"temperature": 0.9, "max_tokens": max_tokens, "seed": 0}}  # fmt: skip
    return SynthesisConfig(mode=mode, samples=samples, teacher=teacher, prefill=prefill)


def valid_reply(answer: str = "6 times 7 is 42.") -> TeacherResponse:
    fields = TraceFields(f'The user asks "{BENIGN}", a multiplication.', "Arithmetic harms no one.", "benign",
                         "6 times 7: 6 * 7 = 42.", answer)  # fmt: skip
    return TeacherResponse(SPEC.render(fields), None, 30, 40, "stop")


def seed_cache(
    cache: ResponseCache, settings: SynthesisConfig, frame: pl.DataFrame, replies: dict[int, TeacherResponse]
) -> None:
    """Put ``replies`` (by sample index) for the benign row into the cache, under the keys the run will ask."""
    client = TeacherClient(settings.teacher, cache)
    benign = frame.filter(pl.col("label") == "benign").to_dicts()[0]
    _, requests = OwnTraceSynthesizer(settings, SPEC, client).prepare(benign)
    for index, reply in replies.items():
        key, request_json = client.cache_key(requests[index])
        cache.put(key, client.identity, request_json, reply)


def run(settings: SynthesisConfig, frame: pl.DataFrame, cache: ResponseCache, offline: bool = False):
    async def go():
        async with TeacherClient(settings.teacher, cache, offline=offline) as client:
            return await synthesize_own(frame, settings, SPEC, client), client

    return asyncio.run(go())


@pytest.fixture(scope="module")
def self_run(smollm2_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """Mode self, 3 samples: the benign row's samples 1 and 2 valid (cached), the other 3 SmolLM2's."""
    settings, frame = config(smollm2_path, samples=3, max_tokens=8), prompts()
    cache = ResponseCache(tmp_path_factory.mktemp("own") / "cache.sqlite")
    seed_cache(cache, settings, frame, {1: valid_reply(), 2: valid_reply("42")})
    outcome, client = run(settings, frame, cache)
    yield settings, frame, cache, outcome, client
    cache.close()


def test_the_first_valid_sample_is_kept_and_every_sample_is_accounted_for(self_run) -> None:
    _, _, _, outcome, client = self_run
    harmful, benign = outcome.frame.to_dicts()
    assert benign["status"] == STATUS_OK and benign["answer"] == "6 times 7 is 42." and benign["mode"] == "self"
    outcomes = [(s["sample"], s["outcome"]) for s in json.loads(benign["samples"])]
    assert outcomes == [(0, "invalid"), (1, "selected"), (2, "valid")]
    assert [s["seed"] for s in json.loads(benign["samples"])] == [0, 1, 2]
    assert benign["attempts"] == 3 and benign["teacher"].startswith("transformers:")
    assert (client.stats.sent, client.stats.cache_hits) == (4, 2)  # SmolLM2 wrote 4 samples; 2 came cached
    assert sample_counts(outcome.frame) == {"selected": 1, "valid": 1, "invalid": 4, "error": 0}


def test_a_row_without_a_valid_sample_is_quarantined_with_every_reason(self_run) -> None:
    harmful = self_run[3].frame.to_dicts()[0]
    assert harmful["status"] == "quarantined" and harmful["trace"] is None
    assert harmful["reason"].startswith("invalid_trace: none of 3 samples is valid: sample 0: ")
    for sample in json.loads(harmful["samples"]):
        assert sample["outcome"] == "invalid" and sample["reason"] in harmful["reason"]
        assert "cut off at max_tokens" in sample["reason"] and sample["completion_tokens"] == 8
    assert harmful["raw_completion"]  # the model's own text is kept for inspection


def test_the_nudge_is_asked_but_never_reaches_a_training_example(self_run) -> None:
    settings, frame, cache, outcome, _ = self_run
    record = frame.to_dicts()[0]
    _, requests = OwnTraceSynthesizer(settings, SPEC, TeacherClient(settings.teacher, cache)).prepare(record)
    nudge = requests[0].messages[0]
    assert nudge["role"] == "system" and "This request is harmful" in nudge["content"]
    assert requests[0].messages[1] == {"role": "user", "content": HARMFUL}  # the prompt as training frames it
    examples = export_frame(outcome.frame.filter(pl.col("status") == STATUS_OK))
    for messages in examples["messages"].to_list():
        assert [m["role"] for m in messages] == ["user", "assistant"]
        assert all("Before you answer, think in three phases" not in m["content"] for m in messages)
        nudge_lines = [line for line in nudge["content"].splitlines() if len(line) > 30]
        assert nudge_lines and all(line not in m["content"] for m in messages for line in nudge_lines)


def test_prefill_opens_the_turn_and_the_trace_with_the_structure_not_the_nudge(smollm2_path: Path, tmp_path: Path):
    """SmolLM2 continues the opening (a think block, cut off at 16 tokens); a cached continuation is selected."""
    settings, frame, opening = config(smollm2_path, max_tokens=16, prefill=True), prompts(), SPEC.markers("en").opening
    continuation = TeacherResponse(valid_reply().text.removeprefix(opening).strip(), None, 30, 40, "stop")
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        seed_cache(cache, settings, frame, {1: continuation})
        outcome, client = run(settings, frame, cache)
        record = frame.to_dicts()[1]  # the benign row
        _, requests = OwnTraceSynthesizer(settings, SPEC, client).prepare(record)
        _, unfilled = OwnTraceSynthesizer(config(smollm2_path, max_tokens=16), SPEC, client).prepare(record)
    assert requests[0].messages == [*unfilled[0].messages, {"role": "assistant", "content": opening}]
    assert client.cache_key(requests[0])[0] != client.cache_key(unfilled[0])[0]  # the prefill is in the key
    harmful, benign = outcome.frame.to_dicts()
    assert (client.stats.sent, client.stats.cache_hits) == (3, 1)  # SmolLM2 continued 3 openings
    assert harmful["status"] == "quarantined" and harmful["raw_completion"].startswith(f"{opening} ")
    assert benign["template_version"].endswith("+prefill")
    for sample in json.loads(harmful["samples"]) + json.loads(benign["samples"])[:1]:  # SmolLM2's own samples
        assert "no_think" not in sample["reason"] and "cut off at max_tokens" in sample["reason"]
    assert benign["status"] == STATUS_OK and benign["trace"] == valid_reply().text  # opening + continuation
    [messages] = export_frame(outcome.frame.filter(pl.col("status") == STATUS_OK))["messages"].to_list()
    assert messages[1]["content"].startswith(opening) and messages[0] == {"role": "user", "content": BENIGN}
    nudge_lines = [line for line in requests[0].messages[0]["content"].splitlines() if len(line) > 30]
    assert nudge_lines and all(line not in m["content"] for m in messages for line in nudge_lines)


def test_a_rerun_answers_from_the_cache(self_run) -> None:
    settings, frame, cache, outcome, _ = self_run
    again, client = run(settings, frame, cache, offline=True)  # no backend at all: the cache must hold every sample
    assert again.frame.equals(outcome.frame)
    assert (client.stats.sent, client.stats.cache_hits) == (0, 6)


def test_an_offline_rerun_names_the_rows_the_cache_lacks(smollm2_path: Path, tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "cache.sqlite") as cache, pytest.raises(CacheMissError, match="2 of 2 prompts"):
        run(config(smollm2_path), prompts(), cache, offline=True)


def test_restyle_keeps_the_answer_or_quarantines(smollm2_path: Path, tmp_path: Path) -> None:
    settings = config(smollm2_path, mode="restyle", samples=2)
    frame = prompts(original_reasoning="Multiply: 6 * 7 = 42.", original_answer="42")
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        seed_cache(cache, settings, frame, {0: valid_reply("It is 41."), 1: valid_reply("The answer is 42.")})
        outcome, _ = run(settings, frame, cache)
    harmful, benign = outcome.frame.to_dicts()
    assert harmful["reason"] == "bad_input: mode 'restyle' needs a trace to paraphrase (original_reasoning, or a " \
                                "row of restyle_from)"  # fmt: skip
    first, second = json.loads(benign["samples"])
    assert first["outcome"] == "invalid" and "no longer matches the original's (numeric check" in first["reason"]
    assert second["outcome"] == "selected" and benign["answer"] == "The answer is 42." and benign["mode"] == "restyle"


def test_answer_kept_checks_benign_answers_against_the_reference_first() -> None:
    fields = TraceFields("u", "a", "benign", "r", "so the capital is Paris")
    record = {"label": "benign", "prompt": "p", "source": "t", "original_answer": "Lyon"}
    assert "text check against 'Lyon'" in answer_kept(record, fields)
    assert answer_kept({**record, "reference_answer": "Paris"}, fields) is None
    assert answer_kept({**record, "label": "harmful"}, fields) is None


def test_the_model_to_be_trained_is_training_s_base_model_by_default() -> None:
    run_config = parse_config({"prompts": {"sources": [{"kind": "harmbench", "n": 2}]},
                               "synthesis": {"mode": "self", "samples": 4}, "training": {"chat_template": "chatml"}})
    teacher = run_config.synthesis.teacher
    assert (teacher.backend, teacher.model, teacher.checkpoint.chat_template) == ("transformers", "smollm2-embedded",
                                                                                  "chatml")  # fmt: skip
    resolved = parse_config(run_config.model_dump(mode="json"))  # the written config reads back the same
    assert resolved.synthesis == run_config.synthesis


@pytest.mark.parametrize(("settings", "complaint"), [
    ({"mode": "self", "teacher": {"backend": "template"}}, "loads no checkpoint"),
    ({"mode": "self", "samples": 2, "teacher": {"backend": "transformers", "sampling": {"temperature": 0}}},
     "identical greedy samples"),
    ({"mode": "generate", "samples": 2}, "apply to modes self and restyle"),
    ({"mode": "self", "restyle_from": "x.parquet"}, "restyle_from applies to mode restyle"),
    ({"mode": "generate", "prefill": True}, "apply to modes self and restyle"),
])  # fmt: skip
def test_bad_settings_are_refused(settings: dict, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        SynthesisConfig.model_validate(settings)


def test_the_teacher_engine_refuses_the_own_modes(smollm2_path: Path) -> None:
    with pytest.raises(ConfigError, match="the model's own traces"):
        TraceSynthesizer(config(smollm2_path), SPEC, TeacherClient(config(smollm2_path).teacher, None))


def test_the_gpu_comparison_config_loads() -> None:
    from alttrain.config import load_config

    config = load_config(Path(__file__).parents[2] / "configs" / "self-distill-gpu.yaml")
    assert (config.synthesis.mode, config.synthesis.samples, config.synthesis.teacher.backend) == ("self", 4, "vllm")
    assert config.datasheet.distribution_gap.model == config.training.model  # training's, resolved at load
    assert {"base", "tuned", "teacher"} <= set(config.evaluation.models)


def test_the_stage_writes_the_samples_and_counts_them(smollm2_path: Path, tmp_path: Path) -> None:
    from rich.console import Console

    from alttrain.layout import CACHE_FILE, PROMPTS_FILE, SYNTHESIZED_FILE
    from alttrain.records import read_stage, write_stage
    from alttrain.synthesis.stage import run_synthesis, show_synthesis
    from alttrain.synthesis.view import SynthesisView

    frame = prompts().filter(pl.col("label") == "benign")
    write_stage(frame, tmp_path / PROMPTS_FILE, "prompts")
    settings = config(smollm2_path)
    view = SynthesisView(structure=SPEC, synthesis=settings)
    with ResponseCache(tmp_path / CACHE_FILE) as cache:  # both samples cached: the stage loads no model
        seed_cache(cache, settings, frame, {0: TeacherResponse("no structure at all", None, 30, 4, "stop"),
                                            1: valid_reply()})  # fmt: skip
    for reparse in (False, True):
        result = run_synthesis(view, tmp_path, reparse=reparse)
        assert (result.ok, result.samples) == (1, {"selected": 1, "valid": 0, "invalid": 1, "error": 0})
        written = read_stage(tmp_path / SYNTHESIZED_FILE, "synthesized")
        assert json.loads(written["samples"][0])[0]["reason"].startswith("no_think")
    console = Console(record=True, width=200)
    show_synthesis(console, result, view)
    assert "samples: 2 = 1 selected + 0 valid + 1 invalid + 0 error" in console.export_text()


def test_restyle_from_reads_an_earlier_run_s_ok_traces(tmp_path: Path) -> None:
    from alttrain.records import write_stage
    from alttrain.synthesis.own import restyle_sources

    frame = prompts()
    earlier = conform(frame.with_columns(
        status=pl.Series(["quarantined", "ok"]), trace=pl.Series([None, valid_reply().text]),
        answer=pl.Series([None, "6 times 7 is 42."]),
    ), "synthesized")  # fmt: skip
    write_stage(earlier, tmp_path / "synthesized.parquet", "synthesized")
    sources = restyle_sources(frame, tmp_path / "synthesized.parquet")
    assert sources["original_reasoning"].to_list() == [None, valid_reply().text]
    assert sources["original_answer"].to_list() == [None, "6 times 7 is 42."]
    assert sources.columns == frame.columns


def test_unused_settings_leave_the_section_s_fingerprint_as_it_was() -> None:
    assert {"samples", "restyle_from"}.isdisjoint(SynthesisConfig().model_dump())
