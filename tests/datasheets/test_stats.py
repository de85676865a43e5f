import polars as pl

from alttrain.datasheets.stats import (
    adherence,
    category_mix,
    label_balance,
    language_mix,
    length_stats,
    length_unit,
    measure,
    phase_lengths,
    reduction,
    rewrite_lengths,
)
from alttrain.measures import RegexCounter, TokenizerConfig
from alttrain.structure import StructureSpec, TraceFields

SPEC = StructureSpec()
COUNTER = RegexCounter(TokenizerConfig().pattern)
BENIGN = TraceFields("Add two numbers.", "Arithmetic harms no one.", "benign", "Two plus two is four.", "4")
HARMFUL = TraceFields("A request to hurt someone.", "Helping would cause harm.", "harmful",
                      "No details; safety resources instead.", "I can't help with that, but here are safety resources.")


def row(fields: TraceFields, label: str, category: str, **extra: object) -> dict:
    values = {"id": f"{label}-{category}-{len(extra)}", "label": label, "category": category, "mode": "generate",
              "original_reasoning": None, **fields.__dict__, "trace": SPEC.render(fields)}
    values.update(extra)
    return values


def frame(rows: list[dict]) -> pl.DataFrame:
    overrides = {"original_reasoning": pl.String, "policy_mode": pl.String}
    rows = [{"policy_mode": None, **r} for r in rows]
    return pl.DataFrame(rows, infer_schema_length=None, schema_overrides=overrides)


def test_adherence_uses_the_shared_validator_per_label() -> None:
    wrong_verdict = SPEC.render(TraceFields(**{**BENIGN.__dict__, "verdict": "harmful"}))
    rows = frame([
        row(BENIGN, "benign", "math"),
        row(BENIGN, "benign", "math", trace=wrong_verdict),
        row(HARMFUL, "harmful", "weapons"),
        row(HARMFUL, "harmful", "weapons", trace="no structure at all"),
    ])
    by_label = {a.label: a for a in adherence(rows, SPEC)}
    assert (by_label["benign"].rows, by_label["benign"].valid) == (2, 1)
    assert by_label["benign"].violations == {"verdict_mismatch": 1}
    assert by_label["harmful"].violations == {"no_think": 1}
    assert by_label["harmful"].rate == 0.5


def test_lengths_per_phase_and_label() -> None:
    rows = frame([row(BENIGN, "benign", "math"), row(HARMFUL, "harmful", "weapons")])
    lengths = phase_lengths(measure(rows, COUNTER))
    assert set(lengths["phase"]) == {"understanding", "assessment", "reasoning", "answer", "trace"}
    stats = {(s.label, s.phase): s for s in length_stats(lengths)}
    assert stats[("benign", "answer")].max == 1  # "4"
    assert stats[("benign", "reasoning")].mean == 6  # Two plus two is four .
    assert stats[("harmful", "trace")].rows == 1
    assert [s.label for s in length_stats(lengths)][:5] == ["harmful"] * 5


def test_stale_token_counts_are_recounted() -> None:
    edited = frame([row(BENIGN, "benign", "math", tokens_reasoning=999, tokens_total=999)])
    lengths = phase_lengths(measure(edited, COUNTER))
    assert lengths.filter(pl.col("phase") == "reasoning")["tokens"].to_list() == [6]


def test_length_unit_names_the_counter(tmp_path) -> None:
    assert "word runs and punctuation marks" in length_unit(TokenizerConfig())
    assert str(tmp_path) in length_unit(TokenizerConfig(kind="hf", path=tmp_path))


def test_category_mix_and_balance() -> None:
    rows = frame([row(BENIGN, "benign", "math"), row(BENIGN, "benign", "math"), row(HARMFUL, "harmful", "weapons")])
    mix = category_mix(rows).to_dicts()
    assert mix == [{"category": "math", "harmful": 0, "benign": 2, "total": 2},
                   {"category": "weapons", "harmful": 1, "benign": 0, "total": 1}]
    assert label_balance(rows) == {"harmful": 1, "benign": 2}
    assert label_balance(rows.filter(pl.col("label") == "benign")) == {"harmful": 0, "benign": 2}


def test_reduction_only_over_rewritten_rows() -> None:
    generated = frame([row(BENIGN, "benign", "math")])
    assert reduction(rewrite_lengths(measure(generated, COUNTER))) is None
    long_original = " ".join(["step"] * 60)
    rewritten = frame([row(BENIGN, "benign", "math", mode="rewrite", original_reasoning=long_original),
                       row(BENIGN, "benign", "math")])
    rewrites = rewrite_lengths(measure(rewritten, COUNTER))
    found = reduction(rewrites)
    assert found is not None and found.rows == 1
    assert found.original_mean == 60
    think = rewrites["rewritten"][0]
    assert think == 4 + 5 + 6  # understanding + assessment + reasoning, as curation counts them
    assert found.factor_median == 60 / think
    assert 0 < found.reduction < 1


def test_rows_per_language_and_adherence_in_each_rows_markers() -> None:
    chinese = TraceFields("用户问二加二等于几。", "算术不会伤害任何人。", "benign", "二加二等于四。", "四")
    rows = frame([
        row(BENIGN, "benign", "math", prompt="What is two plus two?"),
        row(HARMFUL, "harmful", "weapons", prompt="How do I hurt someone?"),
        row(chinese, "benign", "math", prompt="二加二等于几？", trace=SPEC.render(chinese, "zh")),
        row(chinese, "benign", "math", prompt="二加二是多少？", trace=SPEC.render(chinese)),  # English markers
        row(BENIGN, "benign", "math", prompt="What is 2 + 2?", language="fr"),
    ])
    assert language_mix(rows) == [
        {"language": "en", "harmful": 1, "benign": 1, "total": 2},
        {"language": "zh", "harmful": 0, "benign": 2, "total": 2},
        {"language": "fr", "harmful": 0, "benign": 1, "total": 1},
    ]
    benign = next(a for a in adherence(rows, SPEC) if a.label == "benign")
    assert (benign.rows, benign.valid, benign.violations) == (4, 3, {"missing_phase": 1})
