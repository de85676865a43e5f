r"""The ``math`` scorer: math-verify's answer equivalence (HF's reference, used by lighteval and open-r1).

Each reference is parsed as ``$<reference>$`` (``math_verify.parse``); the answer is parsed whole with
math-verify's default extraction, which reads the *last* ``\boxed{...}`` (or other LaTeX answer) and
otherwise the last plain expression or number ("The answer is 2,125." reads 2125). The item is correct when
``math_verify.verify(gold, answer)`` holds for any reference (numeric within math-verify's precision,
symbolic equality, sets, intervals, matrices). ``extracted`` is math-verify's own string of what it read
(None: it read nothing, so an empty or cut-off answer with no expression scores incorrect).

math-verify bounds each parse and each comparison by ``signal.alarm``: here ``timeout_seconds`` (5, its
default) for each, so one item takes at most a few such bounds and never hangs. An item whose parse or
comparison ran out of time counts as incorrect, with ``extracted`` ``timed out: ...``. ``signal.alarm``
works only in the main thread, so the scorer must run there (evaluation scores in the main thread).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from itertools import product
from typing import Any

from math_verify import parse, verify
from math_verify.errors import TimeoutException

from alttrain.evaluation.scorers.base import ItemScore, Scorer

#: math-verify's own default bound, in seconds, on one parse and on one comparison
DEFAULT_TIMEOUT_SECONDS = 5


class _TimedOut(Exception):
    """A parse or comparison ran past the scorer's timeout."""


class MathScorer(Scorer):
    """math-verify's ``parse`` + ``verify`` of the final answer against every reference."""

    def __init__(self, timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS) -> None:
        """Bound each math-verify parse and comparison by ``timeout_seconds``."""
        self.timeout_seconds = timeout_seconds

    def score(self, answer: str, references: Sequence[str]) -> ItemScore:
        """Correct when the answer verifies against any reference (see the module docstring)."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("the math scorer runs math-verify, whose timeout needs the main thread")
        timed_out: _TimedOut | None = None
        try:
            parsed = self._parse(answer)
        except _TimedOut as error:
            return ItemScore(correct=False, score=None, extracted=f"timed out: {error}")
        for reference in references:
            try:
                if self._verify(self._parse(f"${reference}$"), parsed):
                    return ItemScore(correct=True, score=None, extracted=_extracted(parsed))
            except _TimedOut as error:
                timed_out = error
        extracted = f"timed out: {timed_out}" if timed_out else _extracted(parsed)
        return ItemScore(correct=False, score=None, extracted=extracted)

    def _parse(self, text: str) -> list[Any]:
        """``math_verify.parse`` with its defaults; what it returns without ``raise_on_error`` except a timeout."""
        try:
            return parse(text, parsing_timeout=self.timeout_seconds, raise_on_error=True)
        except TimeoutException:
            raise _TimedOut(f"math-verify parse over {self.timeout_seconds} s") from None
        except Exception:  # noqa: BLE001 - math-verify's own default (raise_on_error=False) returns []
            return []

    def _verify(self, gold: list[Any], target: list[Any]) -> bool:
        """``math_verify.verify`` pair by pair, as it does itself; no pair verified and one timed out: raises."""
        timed_out = False
        for gold_item, target_item in product(gold, target):
            try:
                if verify(gold_item, target_item, timeout_seconds=self.timeout_seconds, raise_on_error=True):
                    return True
            except TimeoutException:
                timed_out = True
            except Exception:  # noqa: BLE001, S112 - math-verify's own default counts a failed comparison as False
                continue
        if timed_out:
            raise _TimedOut(f"math-verify comparison over {self.timeout_seconds} s")
        return False


def _extracted(parsed: list[Any]) -> str | None:
    """math-verify's string of what it read (its fallback string when it kept one, else the parsed value)."""
    if not parsed:
        return None
    return str(parsed[-1]) if isinstance(parsed[-1], str) else str(parsed[0])
