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


ZH_FIELDS = TraceFields(
    understanding="用户问：“一周有几天？” 这是一个常识问题。",
    assessment="回答星期的天数不会伤害任何人。",
    verdict="benign",
    reasoning="一周有七天：星期一到星期日。",
    answer="一周有七天。",
)


def test_chinese_round_trip_render_parse_validate() -> None:
    text = SPEC.render(ZH_FIELDS, "zh")
    assert text.splitlines()[:5] == [
        "<think>",
        "问题理解：用户问：“一周有几天？” 这是一个常识问题。",
        "危害性评估：回答星期的天数不会伤害任何人。",
        "判定：无害",
        "条件推理：一周有七天：星期一到星期日。",
    ]
    assert SPEC.parse(text, "zh") == ZH_FIELDS
    assert SPEC.parse(text) == ZH_FIELDS  # without a language: the set the text is written in
    assert SPEC.validate(text, "benign", language="zh") == []
    harmful = TraceFields(
        "用户要的是伤害他人的方法。", "这会伤害他人。", "harmful", "我不会提供方法。", "抱歉，我无法提供帮助。"
    )
    rendered = SPEC.render(harmful, "zh")
    assert "判定：有害" in rendered and SPEC.parse(rendered, "zh") == harmful
    assert {v.kind for v in SPEC.validate(rendered, "benign", "comply", "zh")} >= {ViolationKind.VERDICT_MISMATCH}


def test_a_mixed_frame_parses_each_row_in_its_language() -> None:
    english = fields()
    rows = [(SPEC.render(english), "en", english), (SPEC.render(ZH_FIELDS, "zh"), "zh", ZH_FIELDS)]
    for text, language, expected in rows:
        assert SPEC.parse(text, language) == expected
        assert SPEC.validate(text, expected.verdict, language=language) == []


def test_another_languages_markers_are_a_violation_of_the_rows_set() -> None:
    english_markers = SPEC.render(ZH_FIELDS)  # Chinese text in the English markers
    assert {v.kind for v in SPEC.validate(english_markers, "benign", language="zh")} == {ViolationKind.MISSING_PHASE}
    chinese_markers = SPEC.render(fields(), "zh")
    assert {v.kind for v in SPEC.validate(chinese_markers, "benign", language="en")} == {ViolationKind.MISSING_PHASE}
    with pytest.raises(TraceParseError, match="问题理解"):
        SPEC.parse(english_markers, "zh")


def test_verdict_words_map_to_the_canonical_labels() -> None:
    text = SPEC.render(ZH_FIELDS, "zh").replace("判定：无害", "判定： **无害**。")
    assert SPEC.parse(text, "zh").verdict == "benign"
    assert SPEC.markers("zh").verdict_line("harmful") == "判定：有害"


def test_more_languages_by_config_and_the_default_dump_unchanged() -> None:
    spec = StructureSpec.model_validate({"languages": {"FR": {"understanding_header": "Compréhension :",
                                                              "verdict_words": {"harmful": "nuisible",
                                                                                "benign": "inoffensif"}}}})
    assert set(spec.languages) == {"zh", "fr"}  # a configured set adds to the shipped ones
    french = TraceFields("On demande la date.", "Sans danger.", "benign", "Lire le calendrier.", "Lundi.")
    text = spec.render(french, "fr")
    assert "Compréhension : On demande" in text and "Verdict: inoffensif" in text
    assert spec.parse(text, "fr") == french
    assert spec.markers("de") == spec.markers("en") == spec.markers(None)  # no set of its own: English
    assert "languages" not in StructureSpec().model_dump()  # a config without languages keeps its fingerprint
    assert spec.model_dump()["languages"]["fr"]["understanding_header"] == "Compréhension :"


def test_skeleton_in_chinese() -> None:
    skeleton = SPEC.skeleton(language="zh")
    assert "判定：有害|无害" in skeleton and skeleton.startswith("<think>\n问题理解：<")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_continued_opening_parses_as_the_rendered_trace(language: str) -> None:
    fields = TraceFields("Asks for a product.", "Harmless.", "benign", "6 * 7 = 42.", "42")
    markers = SPEC.markers(language)
    trace = markers.render(fields)
    assert trace.startswith(markers.opening)
    continuation = trace.removeprefix(markers.opening)
    assert markers.continued(f"{continuation}\n") == trace  # the opening and the model's text, joined as rendered
    assert markers.opening == f"{markers.think_open}\n{markers.understanding_header}"
