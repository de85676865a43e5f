"""Structure filter: the trace must parse under the shared :class:`~alttrain.structure.StructureSpec`.

Each row is checked in its language's markers (:func:`alttrain.languages.language_expr`: the ``language``
column synthesis writes, else detected from the prompt), so a mixed-language frame works and a trace in
another language's markers than its row's is a violation.

The shared parser is per-row Python (~40 us a row). Most rows never need it: a vectorised check
proves a row valid when its ``trace`` is exactly the spec's own rendering of its stored fields, every
field holds a word character, and no field contains a marker of the spec (so the parser cannot find
a header, verdict line or think tag anywhere but where the rendering put it). The rendering is taken
from :meth:`StructureSpec.render` itself (rendered once with placeholders), so it follows any
configured markers. Every other row goes through :meth:`StructureSpec.parse`: its first violation
becomes the reason (``structure:<kind>``), and when it parses, its five field columns are set to the
parsed fields (the trace is what the model trains on, so it is the source of truth).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Literal

import polars as pl

from alttrain.curation.filters.base import DROP, Filter, FilterContext
from alttrain.languages import frame_languages
from alttrain.records import with_columns_on_all_cores
from alttrain.structure import LABELS, Markers, StructureSpec, TraceFields, TraceParseError

FIELD_COLUMNS: tuple[str, ...] = ("understanding", "assessment", "verdict", "reasoning", "answer")
TEXT_FIELDS: tuple[str, ...] = ("understanding", "assessment", "reasoning", "answer")
_PLACEHOLDER = re.compile("\x00(" + "|".join(TEXT_FIELDS) + ")\x00")
_PROBE = TraceFields("what is asked", "nobody is harmed", "benign", "the steps", "the answer")


def _rendering(spec: Markers, verdict: str) -> pl.Expr | None:
    """The spec's rendering of the row's stripped fields for one verdict (None: the template is unusual)."""
    placeholders = {name: f"\x00{name}\x00" for name in TEXT_FIELDS}
    template = spec.render(TraceFields(verdict=verdict, **placeholders))  # type: ignore[arg-type]
    parts = _PLACEHOLDER.split(template)
    if parts[1::2] != list(TEXT_FIELDS):
        return None
    return pl.concat_str(
        [pl.lit(part) if i % 2 == 0 else pl.col(part).str.strip_chars() for i, part in enumerate(parts)]
    )


def _round_trips(spec: Markers) -> bool:
    """Whether the spec's rendering of plain fields parses back to them (else no fast path)."""
    for verdict in LABELS:
        probe = replace(_PROBE, verdict=verdict)
        try:
            if spec.parse(spec.render(probe)) != probe:
                return False
        except TraceParseError:
            return False
    return True


def _markers(spec: Markers) -> list[str]:
    """Every string the parser looks for."""
    return [spec.think_open, spec.think_close, *spec.headers]


def canonical_valid(spec: Markers) -> pl.Expr:
    """True where the row is provably valid without the parser (see the module docstring); never null."""
    if not _round_trips(spec):
        return pl.lit(False)
    renderings = {verdict: _rendering(spec, verdict) for verdict in LABELS}
    if any(expr is None for expr in renderings.values()):
        return pl.lit(False)
    rendered = pl.when(pl.col("verdict") == LABELS[0]).then(renderings[LABELS[0]])
    for verdict in LABELS[1:]:
        rendered = rendered.when(pl.col("verdict") == verdict).then(renderings[verdict])
    prefix = spec.verdict_prefix.lower()
    any_marker = "|".join(re.escape(marker) for marker in _markers(spec))  # one scan finds any of them
    conditions = [pl.col("trace") == rendered.otherwise(None)]
    for column in TEXT_FIELDS:
        conditions.append(pl.col(column).str.contains(r"\w"))
        conditions.append(~pl.col(column).str.to_lowercase().str.contains(prefix, literal=True))
        conditions.append(~pl.col(column).str.contains(any_marker))
    return pl.all_horizontal(conditions).fill_null(False)


def _canonical_in_language(spec: StructureSpec, languages: list[str]) -> pl.Expr:
    """:func:`canonical_valid` of each row in the markers of its language (column ``_language``)."""
    valid: pl.Expr = pl.lit(False)
    for language in sorted(set(languages)):
        valid = pl.when(pl.col("_language") == language).then(canonical_valid(spec.markers(language))).otherwise(valid)
    return valid


def _parse_rows(
    spec: StructureSpec, traces: list[str | None], languages: list[str]
) -> tuple[list[str | None], list[TraceFields | None]]:
    """Parse each trace in its row's language: (reason or None, fields or None) per row."""
    reasons: list[str | None] = []
    parsed: list[TraceFields | None] = []
    for trace, language in zip(traces, languages, strict=True):
        try:
            fields = spec.parse(trace or "", language)
        except TraceParseError as error:
            kind = error.violations[0].kind.value if error.violations else "unparsable"
            reasons.append(f"structure:{kind}")
            parsed.append(None)
        else:
            reasons.append(None)
            parsed.append(fields)
    return reasons, parsed


class StructureFilter(Filter):
    """Drop traces that break the structure; first violation as ``structure:<kind>``."""

    kind: Literal["structure"] = "structure"

    def apply(self, frame: pl.DataFrame, context: FilterContext) -> pl.DataFrame:
        """Vectorised proof where possible, the shared parser for the rest; each row in its language's markers."""
        languages = frame_languages(frame)
        frame = frame.with_columns(pl.Series("_language", languages, dtype=pl.String))
        canonical = _canonical_in_language(context.spec, languages)
        frame = with_columns_on_all_cores(frame, canonical.alias("_canonical"))
        fast = frame.filter(pl.col("_canonical")).with_columns(pl.lit(None, dtype=pl.String).alias(DROP))
        fast = fast.with_columns(pl.col(c).str.strip_chars() for c in TEXT_FIELDS)
        slow = frame.filter(~pl.col("_canonical"))
        reasons, parsed = _parse_rows(context.spec, slow["trace"].to_list(), slow["_language"].to_list())
        updates = {
            column: pl.Series(
                [getattr(f, column) if f is not None else None for f in parsed], dtype=pl.String
            )
            for column in FIELD_COLUMNS
        }
        slow = slow.with_columns(pl.Series(DROP, reasons, dtype=pl.String))
        slow = slow.with_columns(
            pl.when(pl.col(DROP).is_null()).then(values).otherwise(pl.col(column)).alias(column)
            for column, values in updates.items()
        )
        return pl.concat([fast, slow], how="vertical_relaxed").drop("_canonical", "_language")
