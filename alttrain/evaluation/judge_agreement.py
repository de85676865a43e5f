"""How the refusal judges agree with each other on the same harmful rows, when more than one ran.

Every row gets the refusal heuristic (``refused``); the StrongREJECT rubric judge gives its own refusal
decision (``sr_refused``) and the guard model a safety verdict (``guard_unsafe``; read here as "safe"
≈ refused, since on a harmful prompt a safe answer is nearly always a refusal). Each pair of judges is
compared on the rows both judged (model judges only where their status is ``ok``), per model.
"""

from __future__ import annotations

from itertools import combinations

import polars as pl

#: judge name -> (its refusal decision as an expression, the column that says it judged the row)
REFUSAL_DECISIONS: dict[str, tuple[pl.Expr, pl.Expr]] = {
    "heuristic": (pl.col("refused"), pl.col("refused").is_not_null()),
    "strongreject": (pl.col("sr_refused"), (pl.col("sr_status") == "ok") & pl.col("sr_refused").is_not_null()),
    "guard (safe)": (~pl.col("guard_unsafe"),
                     (pl.col("guard_status") == "ok") & pl.col("guard_unsafe").is_not_null()),
}
AGREEMENT_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(), "first": pl.String(), "second": pl.String(), "n": pl.UInt32(), "agreement": pl.Float64(),
    "both_refused": pl.UInt32(), "first_only": pl.UInt32(), "second_only": pl.UInt32(), "neither": pl.UInt32(),
}


def judge_agreement(rows: pl.DataFrame) -> pl.DataFrame:
    """Per model and pair of judges that both judged some harmful row: counts and the share that agree."""
    harmful = rows.filter(pl.col("label") == "harmful")
    present = [name for name, (_, judged) in REFUSAL_DECISIONS.items()
               if _has_columns(harmful, judged) and harmful.select(judged.fill_null(False).any()).item()]
    parts = []
    for first, second in combinations(present, 2):
        (a, a_judged), (b, b_judged) = REFUSAL_DECISIONS[first], REFUSAL_DECISIONS[second]
        both = harmful.filter(a_judged.fill_null(False) & b_judged.fill_null(False)).with_columns(
            a.alias("_a"), b.alias("_b"))
        parts.append(both.group_by("model", maintain_order=True).agg(
            pl.lit(first).alias("first"), pl.lit(second).alias("second"), pl.len().alias("n"),
            (pl.col("_a") == pl.col("_b")).mean().alias("agreement"),
            (pl.col("_a") & pl.col("_b")).sum().alias("both_refused"),
            (pl.col("_a") & ~pl.col("_b")).sum().alias("first_only"),
            (~pl.col("_a") & pl.col("_b")).sum().alias("second_only"),
            (~pl.col("_a") & ~pl.col("_b")).sum().alias("neither"),
        ))
    if not parts:
        return pl.DataFrame(schema=AGREEMENT_SCHEMA)
    return pl.concat(parts).select(list(AGREEMENT_SCHEMA)).cast(AGREEMENT_SCHEMA)


def agreement_lines(agreement: pl.DataFrame) -> list[str]:
    """A markdown table of :func:`judge_agreement` (no lines when fewer than two judges ran)."""
    if not agreement.height:
        return []
    lines = ["| model | judges | rows | agreement | both refused | first only | second only | neither |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['first']} vs {r['second']} | {r['n']} | {r['agreement']:.3f} | "
              f"{r['both_refused']} | {r['first_only']} | {r['second_only']} | {r['neither']} |"
              for r in agreement.iter_rows(named=True)]
    return lines


def _has_columns(frame: pl.DataFrame, expression: pl.Expr) -> bool:
    return set(expression.meta.root_names()) <= set(frame.columns)
