"""The language of a row: its ``language`` column when given, else a cheap rule on its text.

The rule (:func:`detect_language`): a text is Chinese (``zh``) when CJK ideographs make up at least
:data:`CJK_SHARE` (30%) of its letters (Unicode category L*: Latin, CJK, ...), else English (``en``).
Thirty per cent keeps a Chinese request that names a few English terms ("解释一下 Python 的装饰器")
Chinese and an English request that quotes a Chinese word or two English. It tells Chinese from the
rest only: rows in any other language name it in their ``language`` column. Every stage resolves a
row's language with :func:`row_language` (one row) or :func:`language_expr` (a polars column), which agree.
"""

from __future__ import annotations

import re

import polars as pl

DEFAULT_LANGUAGE = "en"
CHINESE = "zh"
#: the share of a text's letters that must be CJK ideographs for the text to count as Chinese
CJK_SHARE = 0.3
# CJK Unified Ideographs, Extension A, Compatibility Ideographs, Extensions B-F (the same class in Python and polars)
_CJK_CLASS = r"[\x{3400}-\x{4DBF}\x{4E00}-\x{9FFF}\x{F900}-\x{FAFF}\x{20000}-\x{2FA1F}]"
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


def cjk_share(text: str) -> float:
    """The share of ``text``'s letters that are CJK ideographs (0.0 for a text without letters)."""
    letters = sum(1 for char in text if char.isalpha())
    return len(_CJK.findall(text)) / letters if letters else 0.0


def detect_language(text: str) -> str:
    """``zh`` when at least :data:`CJK_SHARE` of the letters are CJK ideographs, else ``en``."""
    return CHINESE if cjk_share(text) >= CJK_SHARE else DEFAULT_LANGUAGE


def row_language(language: str | None, text: str) -> str:
    """A row's language: its ``language`` value (trimmed, lower case) when set, else detected from ``text``."""
    given = (language or "").strip().lower()
    return given or detect_language(text)


def language_expr(language: str = "language", text: str = "prompt") -> pl.Expr:
    """:func:`row_language` of every row of a frame: the ``language`` column, else detected from ``text``."""
    body = pl.col(text).fill_null("")
    letters = body.str.count_matches(r"\p{L}")
    detected = (
        pl.when((letters > 0) & (body.str.count_matches(_CJK_CLASS) >= letters * CJK_SHARE))
        .then(pl.lit(CHINESE))
        .otherwise(pl.lit(DEFAULT_LANGUAGE))
    )
    given = pl.col(language).str.strip_chars().str.to_lowercase()
    return pl.when(given.is_not_null() & (given != "")).then(given).otherwise(detected)


def frame_languages(frame: pl.DataFrame, language: str = "language", text: str = "prompt") -> list[str]:
    """:func:`language_expr` of every row, for a frame that may lack either column (missing: null)."""
    columns = [
        pl.col(name).cast(pl.String) if name in frame.columns else pl.lit(None, dtype=pl.String).alias(name)
        for name in (language, text)
    ]
    return frame.with_columns(columns).select(language_expr(language, text)).to_series().to_list()
