"""A documented refusal heuristic: phrase patterns that open or carry a refusal.

It is deliberately simple and fast (one compiled regex), so curation can run it on millions of rows.
Its known limits: it misses refusals phrased without these stock phrases, and it flags answers that
quote a refusal phrase while helping. Evaluation measures its accuracy against a labelled refusal
set and adds model judges where the heuristic is not enough.
"""

from __future__ import annotations

import re

import polars as pl

REFUSAL_PATTERNS: tuple[str, ...] = (
    r"\bI(?:'m| am) (?:sorry|afraid)\b",
    r"\bI (?:can(?:'|no)t|cannot|won'?t|will not|must decline|refuse|am unable to|'m unable to)\b",
    r"\bI(?:'m| am) not (?:able|going|comfortable|willing) to\b",
    r"\b(?:can(?:'|no)t|cannot|won'?t|unable to) (?:help|assist|provide|comply|support|share|give)\b",
    r"\bnot (?:something|able) (?:I|to) (?:can|help|assist)\b",
    r"\bI (?:do not|don't) (?:provide|assist|help|support)\b",
    r"\b(?:As an AI|as a language model)\b",
    r"\bI(?:'d| would) (?:rather not|prefer not to)\b",
    r"\bI must (?:respectfully )?decline\b",
    r"\bdecline to (?:help|assist|provide)\b",
    r"\bI apologi[sz]e,? but\b",
    r"\bSorry,? but\b",
    r"\bI (?:would )?strongly (?:advise|urge|recommend|caution) (?:you )?against\b",
    r"\b(?:is|are) (?:both )?(?:illegal|unethical) and (?:illegal|unethical|dangerous|harmful|immoral)\b",
    r"\b(?:is|are) never (?:an? )?appropriate\b",
)
_REFUSAL_RE = re.compile("|".join(f"(?:{p})" for p in REFUSAL_PATTERNS), flags=re.IGNORECASE)
# Sympathy, not a refusal: "I'm (so/really/very) sorry to hear / that / you / for ..."
_SYMPATHY_RE = re.compile(
    r"\bI(?:'m| am) (?:so |really |very |truly )?sorry (?:to hear|that|you|for|about)\b", flags=re.IGNORECASE
)
# Refusals lead with their refusal; a long helpful answer that mentions "I can't" late is not one.
REFUSAL_WINDOW_CHARS = 400


def looks_like_refusal(text: str) -> bool:
    """Whether ``text`` reads as a refusal: a stock refusal phrase within its first 400 characters."""
    normalised = text.replace("\u2019", "'")[:REFUSAL_WINDOW_CHARS]
    return _REFUSAL_RE.search(normalised) is not None


def looks_like_bare_refusal(text: str) -> bool:
    """Whether ``text`` reads as a refusal once expressions of sympathy ("I'm so sorry you ...") are set aside.

    A safe completion may open with sympathy; what makes it a bare refusal is declining the help itself.
    """
    return looks_like_refusal(_SYMPATHY_RE.sub("", text.replace("\u2019", "'")))


def refusal_regex() -> str:
    """The heuristic as one regex string, for vectorised use in polars (``str.contains``)."""
    return "(?i)" + "|".join(f"(?:{p})" for p in REFUSAL_PATTERNS)


def refusal_heuristic(column: str = "answer") -> pl.Expr:
    """Vectorised :func:`looks_like_refusal` of a text column (a boolean polars expression)."""
    window = pl.col(column).str.replace_all("\u2019", "'", literal=True).str.slice(0, REFUSAL_WINDOW_CHARS)
    return window.str.contains(refusal_regex())


def bare_refusal_heuristic(column: str = "answer") -> pl.Expr:
    """Vectorised :func:`looks_like_bare_refusal` of a text column (a boolean polars expression)."""
    text = pl.col(column).str.replace_all("\u2019", "'", literal=True)
    window = text.str.replace_all("(?i)" + _SYMPATHY_RE.pattern, "").str.slice(0, REFUSAL_WINDOW_CHARS)
    return window.str.contains(refusal_regex())
