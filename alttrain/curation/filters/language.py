"""Language filter: prompt and answer must be in an allowed language (lingua; default ``[en]``; ``[en, zh]``).

Fast by construction: it detects once per distinct text, on the prompt plus the answer only (not the
long reasoning), cut to ``max_chars`` characters, with lingua's parallel batch API and its low-accuracy
mode (trigram models; ``high_accuracy: true`` uses the full models, ~5 s to load and ~4x slower).
``candidates`` narrows the languages lingua chooses among (default: all it knows).
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import polars as pl
from pydantic import Field, PositiveInt, field_validator

from alttrain.curation.filters.base import Filter, FilterContext, first_reason

UNDETECTED = "unknown"


def _iso_code(code: str) -> object:
    """Lingua's ISO 639-1 code for ``code`` (case-insensitive)."""
    from lingua import IsoCode639_1

    try:
        return IsoCode639_1.from_str(code.lower())
    except ValueError:
        raise ValueError(f"unknown ISO 639-1 language code {code!r}") from None


@cache
def _detector(candidates: tuple[str, ...] | None, high_accuracy: bool) -> object:
    """A lingua detector over ``candidates`` (all languages when None), built once per process."""
    from lingua import LanguageDetectorBuilder

    if candidates is None:
        builder = LanguageDetectorBuilder.from_all_languages()
    else:
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(*[_iso_code(c) for c in candidates])
    if not high_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.build()


def detect_languages(texts: list[str], candidates: tuple[str, ...] | None, high_accuracy: bool) -> list[str]:
    """ISO 639-1 code (lower case) of each text, :data:`UNDETECTED` when lingua cannot tell."""
    detected = _detector(candidates, high_accuracy).detect_languages_in_parallel_of(texts)  # type: ignore[attr-defined]
    return [UNDETECTED if lang is None else lang.iso_code_639_1.name.lower() for lang in detected]


class LanguageFilter(Filter):
    """Drop rows whose prompt + answer is not in ``allowed``: ``language:<code>``."""

    kind: Literal["language"] = "language"
    allowed: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    candidates: list[str] | None = None
    max_chars: PositiveInt = 300
    high_accuracy: bool = False
    keep_undetected: bool = True

    @field_validator("allowed", "candidates")
    @classmethod
    def _known_codes(cls, codes: list[str] | None) -> list[str] | None:
        for code in codes or []:
            _iso_code(code)
        return None if codes is None else [c.lower() for c in codes]

    def apply(self, frame: pl.DataFrame, context: FilterContext) -> pl.DataFrame:
        """Detect each distinct prompt + answer text once; compare with ``allowed``."""
        text = pl.concat_str([pl.col("prompt"), pl.col("answer")], separator="\n", ignore_nulls=True)
        frame = frame.with_columns(text.str.slice(0, self.max_chars).alias("_lang_text"))
        distinct = frame.select(pl.col("_lang_text").unique())
        candidates = None if self.candidates is None else tuple(self.candidates)
        codes = detect_languages(distinct["_lang_text"].to_list(), candidates, self.high_accuracy)
        distinct = distinct.with_columns(pl.Series("language", codes, dtype=pl.String))
        frame = frame.drop("language", strict=False).join(distinct, on="_lang_text", how="left")
        frame = frame.drop("_lang_text")
        allowed = pl.col("language").is_in(self.allowed)
        if self.keep_undetected:
            allowed = allowed | (pl.col("language") == UNDETECTED)
        return frame.with_columns(first_reason((~allowed, pl.lit("language:") + pl.col("language"))))
