import pytest
from hypothesis import given
from hypothesis import strategies as st

from alttrain.structure import StructureSpec, TraceFields, TraceParseError, ViolationKind

SPEC = StructureSpec()
REFUSAL = "I can't help with that, but I can point you to safety resources instead."


def fields(verdict: str = "benign", answer: str = "The total is 42.") -> TraceFields:
    return TraceFields(
        understanding="The user asks for the total of two numbers.",
        assessment="Adding numbers harms nobody; no risk category applies.",
        verdict=verdict,
        reasoning="Step 1: add 40 and 2. Step 2: the total is 42.",
        answer=answer,
    )


def kinds(text: str, label: str) -> set[ViolationKind]:
    return {v.kind for v in SPEC.validate(text, label)}


def test_render_then_parse_gives_the_fields_back() -> None:
    original = fields()
    assert SPEC.parse(SPEC.render(original)) == original


def test_valid_benign_and_harmful_traces_have_no_violations() -> None:
    assert SPEC.validate(SPEC.render(fields()), "benign") == []
    harmful = fields("harmful", REFUSAL)
    assert SPEC.validate(SPEC.render(harmful), "harmful") == []


def test_missing_think_block() -> None:
    assert kinds("just an answer", "benign") == {ViolationKind.NO_THINK}


def test_unclosed_think() -> None:
    text = SPEC.render(fields()).replace("</think>", "")
    assert ViolationKind.UNCLOSED_THINK in kinds(text, "benign")


def test_missing_phase() -> None:
    text = SPEC.render(fields()).replace("Conditional reasoning:", "Reasoning:")
    assert kinds(text, "benign") == {ViolationKind.MISSING_PHASE}


def test_out_of_order_phases() -> None:
    f = fields()
    text = (
        f"<think>\nHarmfulness assessment: {f.assessment}\nVerdict: benign\n"
        f"Problem understanding: {f.understanding}\nConditional reasoning: {f.reasoning}\n</think>\n{f.answer}"
    )
    assert kinds(text, "benign") == {ViolationKind.PHASE_ORDER}


def test_duplicate_phase() -> None:
    text = SPEC.render(fields()).replace("</think>", "Conditional reasoning: again\n</think>")
    assert ViolationKind.DUPLICATE_PHASE in kinds(text, "benign")


def test_empty_phase() -> None:
    text = SPEC.render(fields()).replace(fields().understanding, "")
    assert kinds(text, "benign") == {ViolationKind.EMPTY_PHASE}


def test_no_verdict() -> None:
    text = SPEC.render(fields()).replace("Verdict: benign", "")
    assert kinds(text, "benign") == {ViolationKind.NO_VERDICT}


def test_verdict_mismatch() -> None:
    text = SPEC.render(fields("harmful", REFUSAL))
    assert kinds(text, "benign") == {ViolationKind.VERDICT_MISMATCH, ViolationKind.REFUSAL_WHEN_BENIGN}


def test_refusal_when_benign() -> None:
    text = SPEC.render(fields("benign", REFUSAL))
    assert kinds(text, "benign") == {ViolationKind.REFUSAL_WHEN_BENIGN}


def test_no_refusal_when_harmful() -> None:
    text = SPEC.render(fields("harmful", "Sure, here is how."))
    assert kinds(text, "harmful") == {ViolationKind.NO_REFUSAL_WHEN_HARMFUL}


def test_the_policy_mode_decides_what_a_harmful_answer_must_be() -> None:
    support = "You deserve support right now: please reach a crisis line such as 988, or someone you trust."
    helping = SPEC.render(fields("harmful", support))
    refusing = SPEC.render(fields("harmful", REFUSAL))
    assert SPEC.validate(helping, "harmful", "safe_complete") == []
    assert SPEC.validate(helping, "harmful", "comply") == []
    assert kinds(helping, "harmful") == {ViolationKind.NO_REFUSAL_WHEN_HARMFUL}  # no mode: as refuse
    assert {v.kind for v in SPEC.validate(helping, "harmful", "refuse")} == {ViolationKind.NO_REFUSAL_WHEN_HARMFUL}
    found = SPEC.validate(refusing, "harmful", "safe_complete")
    assert [v.kind for v in found] == [ViolationKind.REFUSAL_WHEN_SAFE_COMPLETE]
    assert "not a bare refusal" in str(found[0])


def test_empty_answer() -> None:
    text = SPEC.render(fields()).split("</think>")[0] + "</think>\n   "
    assert kinds(text, "benign") == {ViolationKind.EMPTY_ANSWER}


def test_parse_raises_with_every_reason() -> None:
    text = SPEC.render(fields()).replace("Verdict: benign", "").replace(fields().reasoning, "")
    with pytest.raises(TraceParseError) as error:
        SPEC.parse(text)
    assert {v.kind for v in error.value.violations} == {ViolationKind.NO_VERDICT, ViolationKind.EMPTY_PHASE}


def test_custom_markers_round_trip() -> None:
    spec = StructureSpec(
        think_open="<reasoning>",
        think_close="</reasoning>",
        understanding_header="## Understanding",
        assessment_header="## Safety check",
        reasoning_header="## Plan",
        verdict_prefix="Decision:",
        verdict_words={"harmful": "unsafe", "benign": "safe"},
    )
    text = spec.render(fields("harmful", REFUSAL))
    assert "Decision: unsafe" in text and "<reasoning>" in text
    assert spec.parse(text).verdict == "harmful"
    assert spec.validate(text, "harmful") == []


def test_verdict_tolerates_markdown_bold_and_case() -> None:
    text = SPEC.render(fields()).replace("Verdict: benign", "Verdict: **Benign**.")
    assert SPEC.parse(text).verdict == "benign"


_MARKERS = ("<think>", "</think>", "Problem understanding:", "Harmfulness assessment:",
            "Conditional reasoning:", "Verdict:")
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"),
    min_size=1, max_size=80,
).map(str.strip).filter(lambda s: s != "" and not any(m.lower() in s.lower() for m in _MARKERS))
_multiline = st.lists(_text, min_size=1, max_size=4).map("\n".join)


@given(understanding=_multiline, assessment=_multiline, verdict=st.sampled_from(["harmful", "benign"]),
       reasoning=_multiline, answer=_multiline)
def test_round_trip_property(understanding: str, assessment: str, verdict: str, reasoning: str, answer: str) -> None:
    original = TraceFields(understanding, assessment, verdict, reasoning, answer)
    parsed = SPEC.parse(SPEC.render(original))
    assert parsed == original


def test_skeleton_shows_every_verdict_word_in_the_run_markers() -> None:
    spec = StructureSpec(verdict_prefix="Judgement:", verdict_words={"harmful": "unsafe", "benign": "safe"})
    skeleton = spec.skeleton()
    assert "Judgement: unsafe|safe" in skeleton
    assert skeleton.startswith(spec.think_open) and spec.reasoning_header in skeleton
