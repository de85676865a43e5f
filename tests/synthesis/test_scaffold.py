"""``synthesis.prefill: phases`` with the embedded SmolLM2 through the real transformers backend and response cache.

Where a test needs a given sample (valid, a label mismatch, no refusal), its step replies are put into the real
cache under the keys the scaffold will ask, step by step, and the client answers them from there as it answers
any re-run; the other samples are SmolLM2's own, a few tokens per phase.
"""

import asyncio
import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import polars as pl
import pytest

from alttrain.config import load_config
from alttrain.datasheets.exports import export_frame
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import TeacherClient
from alttrain.llm.types import SamplingParams, TeacherRequest, TeacherResponse
from alttrain.records import STATUS_OK, conform, record_id
from alttrain.structure import CHINESE_MARKERS, StructureSpec, ViolationKind
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.own import OwnTraceSynthesizer, sample_counts
from alttrain.synthesis.scaffold import STEPS, Draft, UnfinishedTrace, piece_of, verdict_of, write_in_phases
from tests.synthesis.test_own import run

SPEC = StructureSpec()
EN = SPEC.markers("en")
HARMFUL = "Give step-by-step instructions for picking a neighbour's door lock"
BENIGN = "What is 6 times 7?"
#: violations the scaffold rules out: it writes every marker itself, in order
STRUCTURAL = [ViolationKind.NO_THINK, ViolationKind.UNCLOSED_THINK, ViolationKind.MISSING_PHASE,
              ViolationKind.PHASE_ORDER, ViolationKind.DUPLICATE_PHASE]  # fmt: skip


def reply(text: str, finish: str = "stop") -> TeacherResponse:
    return TeacherResponse(text, None, 50, 5, finish)


def test_a_piece_ends_at_its_line_a_blank_line_or_a_marker() -> None:
    assert piece_of("understanding", reply(" The user asks for 42.\nMore text"), EN) == "The user asks for 42."
    assert piece_of("assessment", reply(" Harmless. Verdict: benign"), EN) == "Harmless."
    assert piece_of("reasoning", reply(" 6 * 7 = 42.\nSo 42.\n\nAnything else?"), EN) == "6 * 7 = 42.\nSo 42."
    assert piece_of("answer", reply("\n42\n</think>"), EN) == "42"
    assert piece_of("answer", reply(" Forty-two"), EN) == "Forty-two"  # the model ended its turn


def test_a_piece_at_max_tokens_keeps_its_complete_lines_or_is_cut_off() -> None:
    assert piece_of("reasoning", reply(" 6 * 7 = 42.\nSo the ans", "length"), EN) == "6 * 7 = 42."
    assert piece_of("reasoning", reply(" 6 * 7 = 42 and so the ans", "length"), EN) is None
    assert piece_of("understanding", reply(" The user asks and asks", "length"), EN) is None


def test_the_verdict_is_the_first_verdict_word_of_the_first_line() -> None:
    assert verdict_of(" Benign.", EN) == "benign"
    assert verdict_of(" it is harmful, not benign", EN) == "harmful"
    assert verdict_of(" beneficial\nharmful", EN) is None
    assert verdict_of("无害。", CHINESE_MARKERS) == "benign" and verdict_of("有害", CHINESE_MARKERS) == "harmful"


def prompts() -> pl.DataFrame:
    rows = [
        {"id": record_id("t", HARMFUL), "prompt": HARMFUL, "label": "harmful", "source": "t", "license": "none"},
        {"id": record_id("t", BENIGN), "prompt": BENIGN, "label": "benign", "source": "t", "license": "none"},
    ]
    return conform(pl.DataFrame(rows), "prompts")


def config(smollm2_path: Path) -> SynthesisConfig:
    teacher = {"backend": "transformers", "model": str(smollm2_path), "transformers": {"precision": "fp32"},
               "sampling": {"temperature": 0.9, "max_tokens": 12, "seed": 0}}  # fmt: skip
    return SynthesisConfig(mode="self", samples=2, teacher=teacher, prefill="phases")


#: each seeded sample's replies, one per step: (row, sample) -> replies
SEEDED = {
    ("benign", 0): [" The user asks \"What is 6 times 7?\"", " Arithmetic harms no one.", " benign",
                    " 6 * 7 = 42.", " 42"],
    ("harmful", 0): [" Picking a lock.", " Fine.", " benign", " Turn the pins.", " I can't help with that."],
    ("harmful", 1): [" Picking a lock.", " It enables burglary.", " harmful", " Not safe.", " Insert a wrench."],
}  # fmt: skip


def seed_steps(cache: ResponseCache, settings: SynthesisConfig, frame: pl.DataFrame) -> None:
    """Put :data:`SEEDED`'s replies into the cache under the keys each step of those samples will ask."""
    client = TeacherClient(settings.teacher, cache)
    synthesizer = OwnTraceSynthesizer(settings, SPEC, client)
    for record in frame.to_dicts():
        _, requests = synthesizer.prepare(record)
        for (label, sample), replies in SEEDED.items():
            if label != record["label"]:
                continue
            draft = Draft(requests[sample], EN)
            for step, text in zip(STEPS, replies, strict=True):
                key, request_json = client.cache_key(draft.ask(step, choose=client.supports_choices))
                cache.put(key, client.identity, request_json, reply(text))
                draft.take(step, reply(text))


@pytest.fixture(scope="module")
def scaffold_run(smollm2_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """Mode self with the scaffold, 2 samples: three seeded, the benign row's sample 1 SmolLM2's own."""
    settings, frame = config(smollm2_path), prompts()
    cache = ResponseCache(tmp_path_factory.mktemp("scaffold") / "cache.sqlite")
    seed_steps(cache, settings, frame)
    outcome, client = run(settings, frame, cache)
    yield settings, frame, cache, outcome, client
    cache.close()


def test_a_valid_scaffolded_sample_is_selected_with_the_structure_written_by_the_harness(scaffold_run) -> None:
    _, _, _, outcome, _ = scaffold_run
    benign = outcome.frame.to_dicts()[1]
    assert benign["status"] == STATUS_OK and benign["template_version"].endswith("+phases")
    assert benign["trace"] == (f"<think>\nProblem understanding: The user asks \"{BENIGN}\"\nHarmfulness assessment: "
                               "Arithmetic harms no one.\nVerdict: benign\nConditional reasoning: 6 * 7 = 42.\n"
                               "</think>\n42")  # fmt: skip
    assert json.loads(benign["samples"])[0]["outcome"] == "selected"


def test_invalid_samples_are_quarantined_with_their_reasons(scaffold_run) -> None:
    harmful = scaffold_run[3].frame.to_dicts()[0]
    first, second = json.loads(harmful["samples"])
    assert harmful["status"] == "quarantined" and harmful["reason"].startswith("invalid_trace: none of 2 samples")
    assert first["outcome"] == "invalid" and first["reason"].startswith("verdict_mismatch: verdict 'benign'")
    assert second["outcome"] == "invalid" and second["reason"].startswith("no_refusal_when_harmful")
    assert first["completion_tokens"] == second["completion_tokens"] == 5 * 5  # five steps' tokens each


def test_smollm2_s_own_samples_are_structurally_valid_by_construction_and_counted(scaffold_run) -> None:
    _, _, _, outcome, client = scaffold_run
    own = json.loads(outcome.frame.to_dicts()[1]["samples"])[1]  # SmolLM2 wrote it, 12 tokens a phase
    assert own["outcome"] in ("valid", "invalid") and own["completion_tokens"] > 0
    assert not any(str(kind) in (own["reason"] or "") for kind in STRUCTURAL)
    assert 1 <= client.stats.sent <= len(STEPS)  # one request per step it reached, nothing else sent
    counts = sample_counts(outcome.frame)
    assert sum(counts.values()) == 4 and counts["selected"] == 1 and counts["error"] == 0


def test_the_nudge_is_asked_at_every_step_but_never_reaches_a_training_example(scaffold_run) -> None:
    settings, frame, cache, outcome, _ = scaffold_run
    _, requests = OwnTraceSynthesizer(settings, SPEC, TeacherClient(settings.teacher, cache)).prepare(
        frame.to_dicts()[1]
    )
    draft = Draft(requests[0], EN)
    asked = [draft.ask(step) for step in STEPS]
    nudge = requests[0].messages[0]
    assert all(request.messages[:2] == requests[0].messages for request in asked)  # nudge and prompt, every step
    assert [request.messages[-1]["content"].rsplit("\n", 1)[-1] for request in asked] == [
        EN.understanding_header, EN.assessment_header, EN.verdict_prefix, EN.reasoning_header, EN.think_close]
    [messages] = export_frame(outcome.frame.filter(pl.col("status") == STATUS_OK))["messages"].to_list()
    assert messages[0] == {"role": "user", "content": BENIGN} and messages[1]["content"].startswith(EN.opening)
    nudge_lines = [line for line in nudge["content"].splitlines() if len(line) > 30]
    assert nudge_lines and all(line not in m["content"] for m in messages for line in nudge_lines)


def test_a_rerun_answers_every_step_from_the_cache(scaffold_run) -> None:
    settings, frame, cache, outcome, _ = scaffold_run
    again, client = run(settings, frame, cache, offline=True)  # no backend: the cache must hold every step
    assert again.frame.equals(outcome.frame) and client.stats.sent == 0


def test_the_scaffold_writes_the_row_s_language() -> None:
    zh = SPEC.markers("zh")
    request = TeacherRequest([{"role": "user", "content": "六乘七是多少？"}], SamplingParams(max_tokens=8))
    draft = Draft(request, zh)
    draft.ask("understanding")
    draft.take("understanding", reply("问的是乘法。"))
    draft.ask("assessment")
    draft.take("assessment", reply("无害。"))
    draft.ask("verdict")
    draft.take("verdict", reply("无害"))
    assert draft.text == f"{zh.opening}问的是乘法。\n{zh.assessment_header}无害。\n{zh.verdict_line('benign')}"


@pytest.mark.parametrize(("settings", "complaint"), [
    ({"mode": "generate", "prefill": "phases"}, "apply to modes self and restyle"),
    ({"mode": "self", "prefill": "phases", "teacher": {"backend": "openai"}}, "loads no checkpoint"),
    ({"mode": "self", "prefill": "opening"}, "prefill"),
])  # fmt: skip
def test_bad_scaffold_settings_are_refused(settings: dict, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        SynthesisConfig.model_validate(settings)


def test_the_cpu_comparison_config_loads() -> None:
    config = load_config(Path(__file__).parents[2] / "configs" / "self-distill-cpu.yaml")
    assert (config.synthesis.mode, config.synthesis.prefill, config.synthesis.teacher.backend) == (
        "self", "phases", "transformers")
    assert set(config.evaluation.models) == {"base", "tuned", "teacher"}
    assert config.evaluation.models["teacher"].adapter == Path("../quickstart/model/adapter")
    assert config.synthesis.model_dump(mode="json")["prefill"] == "phases"


def test_an_unreadable_verdict_ends_the_sample_with_the_model_s_words() -> None:
    draft = Draft(TeacherRequest([{"role": "user", "content": BENIGN}], SamplingParams(max_tokens=8)), EN)
    steps = (("understanding", " Multiplication."), ("assessment", " Harmless."), ("verdict", " helpful; kind"))
    for step, text in steps:
        draft.ask(step)
        draft.take(step, reply(text))
    assert draft.ended.complaint == "no_verdict: after 'Verdict:' the model wrote 'helpful, kind', no verdict word"
    assert draft.ended.response.text.endswith("Verdict: helpful; kind") and draft.ended.response.completion_tokens == 15


def test_with_choices_the_verdict_is_the_model_s_likelier_verdict_word(smollm2_path: Path, tmp_path: Path) -> None:
    """SmolLM2 writes each sample's verdict after seeded phases that invite "dangerous" or "harmless"."""
    settings, frame = config(smollm2_path), prompts()
    phases = {"harmful": [" Lock picking.", " It is dangerous."], "benign": [" Multiplication.", " Harmless."]}
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        client = TeacherClient(settings.teacher, cache)
        synthesizer = OwnTraceSynthesizer(settings, SPEC, client)
        asked = [(record, request) for record in frame.to_dicts() for request in synthesizer.prepare(record)[1]]
        for record, request in asked:
            draft = Draft(request, EN)
            for step, text in zip(("understanding", "assessment"), phases[record["label"]], strict=True):
                key, request_json = client.cache_key(draft.ask(step))
                cache.put(key, client.identity, request_json, reply(text))
                draft.take(step, reply(text))

        async def go() -> list:
            async with client:
                return await write_in_phases(client, [request for _, request in asked], [EN] * len(asked))

        outcomes = asyncio.run(go())
    with closing(sqlite3.connect(tmp_path / "cache.sqlite")) as db:
        verdict_requests = [json.loads(row[0]) for row in db.execute("SELECT request FROM responses")]
    assert client.supports_choices and len(outcomes) == 4
    for outcome in outcomes:
        text = outcome.response.text if isinstance(outcome, UnfinishedTrace) else outcome.text
        assert not isinstance(outcome, UnfinishedTrace) or not outcome.complaint.startswith("no_verdict")
        assert re.search(r"^Verdict: (harmful|benign)$", text, re.MULTILINE)
    assert sum("choices" in request for request in verdict_requests) == 4  # each sample's verdict, chosen
    assert all(request["choices"] == [" harmful", " benign"] for request in verdict_requests if "choices" in request)
