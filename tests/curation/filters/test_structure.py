from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alttrain.curation.filters.base import DROP, FilterContext
from alttrain.curation.filters.structure import StructureFilter, canonical_valid
from alttrain.measures import TokenizerConfig, make_counter
from alttrain.structure import StructureSpec, TraceFields
from curation.rows import BENIGN_FIELDS, HARMFUL_FIELDS, SPEC, frame, row


def run(rows: list[dict], spec: StructureSpec = SPEC) -> pl.DataFrame:
    context = FilterContext(spec=spec, counter=make_counter(TokenizerConfig()))
    return StructureFilter().apply(frame(rows), context).sort("id")


def reason_of(trace: str, label: str = "benign") -> str | None:
    return run([row("A neutral question about counting apples?", label, trace=trace)])[DROP][0]


def test_rendered_traces_are_kept_by_the_vectorised_proof() -> None:
    rows = [row("How many apples?"), row("A harmful stand-in", "harmful")]
    checked = frame(rows).with_columns(canonical_valid(SPEC).alias("fast"))
    assert checked["fast"].to_list() == [True, True]
    assert run(rows)[DROP].to_list() == [None, None]


@pytest.mark.parametrize(
    ("trace", "reason"),
    [
        ("Just an answer with no think block.", "structure:no_think"),
        ("<think>\nProblem understanding: x\nHarmfulness assessment: y\nVerdict: benign\n", "structure:unclosed_think"),
        (
            "<think>\nProblem understanding: x\nVerdict: benign\nConditional reasoning: z\n</think>\nA",
            "structure:missing_phase",
        ),
        (
            "<think>\nHarmfulness assessment: y\nVerdict: benign\nProblem understanding: x\n"
            "Conditional reasoning: z\n</think>\nA",
            "structure:phase_order",
        ),
        ("<think>\nProblem understanding: x\nHarmfulness assessment: y\nConditional reasoning: z\n</think>\nA",
         "structure:no_verdict"),
        (
            "<think>\nProblem understanding:\nHarmfulness assessment: y\nVerdict: benign\n"
            "Conditional reasoning: z\n</think>\nA",
            "structure:empty_phase",
        ),
    ],
)
def test_broken_traces_get_the_validators_first_violation(trace: str, reason: str) -> None:
    assert reason_of(trace) == reason


def test_a_trace_that_parses_but_disagrees_with_its_fields_takes_the_traces_fields() -> None:
    edited = TraceFields(**{**BENIGN_FIELDS.__dict__, "answer": "The answer is 7."})
    result = run([row("How many apples?", trace=SPEC.render(edited))])
    assert result[DROP][0] is None
    assert result["answer"][0] == "The answer is 7."


def test_a_field_holding_a_header_goes_to_the_parser_and_fails_as_a_duplicate() -> None:
    fields = TraceFields(**{**BENIGN_FIELDS.__dict__, "reasoning": "step one\nProblem understanding: again"})
    rows = [row("How many apples?", fields=fields)]
    assert frame(rows).select(canonical_valid(SPEC))[0, 0] is False
    assert run(rows)[DROP][0] == "structure:duplicate_phase"


def test_custom_markers_use_the_fast_path_and_the_parser_alike() -> None:
    spec = StructureSpec(think_open="<reasoning>", think_close="</reasoning>", verdict_prefix="Decision:")
    good = row("How many apples?", trace=spec.render(BENIGN_FIELDS))
    bad = row("How many pears?", trace=SPEC.render(BENIGN_FIELDS))
    assert frame([good]).select(canonical_valid(spec))[0, 0] is True
    reasons = dict(zip(*run([good, bad], spec).select("prompt", DROP).to_dict().values(), strict=True))
    assert reasons == {"How many apples?": None, "How many pears?": "structure:no_think"}


PIECES = [*"ab \n\t:", "Verdict:", "verdict: benign", "<think>", "</think>", "Problem understanding:", "\x1c", "é"]
text = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(u=text, a=text, r=text, ans=text, verdict=st.sampled_from(["harmful", "benign"]), mangle=st.booleans())
def test_the_fast_path_never_passes_a_trace_the_parser_rejects(
    u: str, a: str, r: str, ans: str, verdict: str, mangle: bool
) -> None:
    fields = TraceFields(u, a, verdict, r, ans)  # type: ignore[arg-type]
    trace = SPEC.render(fields)
    if mangle:
        trace = trace.replace("\n", " ", 1)
    stored = row("q", verdict, fields=fields, trace=trace)
    if frame([stored]).select(canonical_valid(SPEC))[0, 0]:
        parsed = SPEC.parse(trace)
        assert parsed == TraceFields(u.strip(), a.strip(), verdict, r.strip(), ans.strip())  # type: ignore[arg-type]


def test_every_row_comes_back_once(context: FilterContext) -> None:
    rows = [row(f"Question number {i}?") for i in range(5)] + [row("Broken", trace="nothing here")]
    out = StructureFilter().apply(frame(rows), context)
    assert sorted(out["prompt"].to_list()) == sorted(r["prompt"] for r in rows)
    assert out.filter(pl.col(DROP).is_not_null())["prompt"].to_list() == ["Broken"]
    assert HARMFUL_FIELDS.verdict == "harmful"


ZH_FIELDS = TraceFields("用户问苹果一共有几个。", "数苹果不会伤害任何人。", "benign", "三个加四个等于七个。", "七个。")


def test_a_mixed_language_frame_is_checked_in_each_rows_markers() -> None:
    rows = [
        row("How many apples are there?"),
        row("一共有几个苹果？", fields=ZH_FIELDS, trace=SPEC.render(ZH_FIELDS, "zh")),  # detected from the prompt
        row("苹果有几个？", fields=ZH_FIELDS, trace=SPEC.render(ZH_FIELDS)),  # Chinese row, English markers
        row("How many pears?", fields=ZH_FIELDS, trace=SPEC.render(ZH_FIELDS, "zh"), language="zh"),  # the column's
    ]
    checked = run(rows)
    reasons = dict(zip(checked["prompt"], checked[DROP], strict=True))
    assert reasons == {
        "How many apples are there?": None,
        "一共有几个苹果？": None,
        "苹果有几个？": "structure:missing_phase",
        "How many pears?": None,
    }
    kept = checked.filter(pl.col("prompt") == "一共有几个苹果？").row(0, named=True)
    assert (kept["understanding"], kept["verdict"]) == (ZH_FIELDS.understanding, "benign")
    assert "_language" not in checked.columns
    fast = frame(rows[1:2]).select(canonical_valid(SPEC.markers("zh"))).to_series()
    assert fast.to_list() == [True]  # a Chinese rendering takes the vectorised proof in its own markers
