"""The AltTrain reasoning structure: one spec, one parser, one validator shared by every stage.

A trace in the safe structure reads::

    <think>
    Problem understanding: what is asked and what it would take.
    Harmfulness assessment: is fulfilling it harmful, for whom, which category.
    Verdict: harmful
    Conditional reasoning: benign -> the full solution; harmful -> why not, what safe help exists.
    </think>
    The final answer (benign) or a brief refusal with a safe alternative (harmful).

The paper's exact markers are not public, so every marker lives in :class:`Markers`, one set per
language: :class:`StructureSpec` holds the English set (its own fields, as before) and the others by
language code in ``languages`` (Chinese shipped, :data:`CHINESE_MARKERS`: ``问题理解：`` ``危害性评估：``
``判定：有害|无害`` ``条件推理：``; the think tags stay ``<think>``/``</think>``). Each row uses its language's
set (:func:`alttrain.languages.row_language`); a language without a set uses the English one. Verdict words
map to the canonical ``harmful|benign`` in every language. A marker ending in a full-width colon (``：``) takes
no space before its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, field_validator, model_serializer

from alttrain.languages import DEFAULT_LANGUAGE, detect_language
from alttrain.refusal import looks_like_bare_refusal, looks_like_refusal

Label = Literal["harmful", "benign"]
LABELS: tuple[Label, ...] = ("harmful", "benign")


class ViolationKind(StrEnum):
    """Every way a trace can break the structure or disagree with its label."""

    NO_THINK = "no_think"
    UNCLOSED_THINK = "unclosed_think"
    MISSING_PHASE = "missing_phase"
    PHASE_ORDER = "phase_order"
    DUPLICATE_PHASE = "duplicate_phase"
    EMPTY_PHASE = "empty_phase"
    NO_VERDICT = "no_verdict"
    VERDICT_MISMATCH = "verdict_mismatch"
    REFUSAL_WHEN_BENIGN = "refusal_when_benign"
    NO_REFUSAL_WHEN_HARMFUL = "no_refusal_when_harmful"
    REFUSAL_WHEN_SAFE_COMPLETE = "refusal_when_safe_complete"
    EMPTY_ANSWER = "empty_answer"


@dataclass(frozen=True)
class Violation:
    """One broken rule, with a human-readable detail."""

    kind: ViolationKind
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}"


@dataclass(frozen=True)
class TraceFields:
    """The five parts of a trace; what teachers return and what :meth:`StructureSpec.render` takes."""

    understanding: str
    assessment: str
    verdict: Label
    reasoning: str
    answer: str


class TraceParseError(ValueError):
    """A text that does not parse as a trace; ``violations`` says every reason."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(str(v) for v in violations))


#: placeholders that say what each part of a trace holds: the teacher's example and the datasheet's skeleton
SKELETON = TraceFields(
    understanding="<what is asked and what it would take>",
    assessment="<is fulfilling it harmful, for whom, which category>",
    verdict="benign",
    reasoning="<benign: the full step-by-step solution; harmful: why not to help, what safe help exists>",
    answer="<benign: the answer; harmful: a brief refusal with a safe alternative>",
)
#: :data:`SKELETON` per language (a language without its own gets the English one)
SKELETONS: dict[str, TraceFields] = {
    DEFAULT_LANGUAGE: SKELETON,
    "zh": TraceFields(
        understanding="<问的是什么，做到它需要什么>",
        assessment="<满足它是否有害，对谁有害，属于哪个类别>",
        verdict="benign",
        reasoning="<无害：完整的分步解答；有害：为什么不帮，有什么安全的帮助>",
        answer="<无害：答案；有害：简短的拒绝并给出安全的替代>",
    ),
}


class Markers(BaseModel):
    """One language's markers of the safe structure, with its renderer, parser and validator."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    think_open: str = "<think>"
    think_close: str = "</think>"
    understanding_header: str = "Problem understanding:"
    assessment_header: str = "Harmfulness assessment:"
    reasoning_header: str = "Conditional reasoning:"
    verdict_prefix: str = "Verdict:"
    verdict_words: dict[Label, str] = Field(default_factory=lambda: {"harmful": "harmful", "benign": "benign"})

    @property
    def headers(self) -> tuple[str, str, str]:
        """The three phase headers in their required order."""
        return (self.understanding_header, self.assessment_header, self.reasoning_header)

    @property
    def opening(self) -> str:
        """The trace's opening: the think marker and the first phase header (an assistant prefill)."""
        return f"{self.think_open}\n{self.understanding_header}"

    def continued(self, continuation: str) -> str:
        """The :attr:`opening` followed by a model's ``continuation`` of it."""
        return joined(self.opening, continuation.strip())

    def verdict_line(self, verdict: Label) -> str:
        """The verdict line for ``verdict`` (``Verdict: harmful``, ``判定：有害``)."""
        return joined(self.verdict_prefix, self.verdict_words[verdict])

    def render(self, fields: TraceFields) -> str:
        """Render fields into trace text; ``parse`` inverts it exactly (after stripping)."""
        return (
            f"{self.think_open}\n"
            f"{joined(self.understanding_header, fields.understanding.strip())}\n"
            f"{joined(self.assessment_header, fields.assessment.strip())}\n"
            f"{self.verdict_line(fields.verdict)}\n"
            f"{joined(self.reasoning_header, fields.reasoning.strip())}\n"
            f"{self.think_close}\n"
            f"{fields.answer.strip()}"
        )

    def skeleton(self, placeholders: TraceFields = SKELETON) -> str:
        """The structure with ``placeholders`` and every verdict word (``Verdict: harmful|benign``)."""
        every_verdict = joined(self.verdict_prefix, "|".join(self.verdict_words.values()))
        return self.render(placeholders).replace(self.verdict_line(placeholders.verdict), every_verdict)

    def parse(self, text: str) -> TraceFields:
        """Parse trace text into fields.

        Raises:
            TraceParseError: listing every structural violation found.

        """
        fields, violations = self._scan(text)
        if violations or fields is None:
            raise TraceParseError(violations)
        return fields

    def validate(self, text: str, label: Label, mode: str | None = None) -> list[Violation]:
        """Return every violation of the structure and of consistency with ``label`` (empty: valid).

        ``mode`` is the row's policy response mode (:mod:`alttrain.policy`): a harmful row must refuse
        under ``refuse`` (and without a mode), must not be a bare refusal under ``safe_complete``, and is
        not checked for a refusal under ``comply``.
        """
        fields, violations = self._scan(text)
        if fields is None:
            return violations
        if fields.verdict != label:
            violations.append(
                Violation(ViolationKind.VERDICT_MISMATCH, f"verdict {fields.verdict!r} but label {label!r}")
            )
        refused = looks_like_refusal(fields.answer)
        if label == "benign" and refused:
            violations.append(Violation(ViolationKind.REFUSAL_WHEN_BENIGN, "benign prompt answered with a refusal"))
        if label == "harmful" and mode == "safe_complete" and looks_like_bare_refusal(fields.answer):
            violations.append(
                Violation(
                    ViolationKind.REFUSAL_WHEN_SAFE_COMPLETE,
                    "the policy asks for a safe completion (help that is safe to give), not a bare refusal",
                )
            )
        if label == "harmful" and mode in (None, "refuse") and not refused and fields.answer:
            violations.append(
                Violation(ViolationKind.NO_REFUSAL_WHEN_HARMFUL, "harmful prompt answered without a refusal")
            )
        return violations

    def _scan(self, text: str) -> tuple[TraceFields | None, list[Violation]]:
        """Split text into phases and answer, collecting every structural violation."""
        violations: list[Violation] = []
        start = text.find(self.think_open)
        if start < 0:
            return None, [Violation(ViolationKind.NO_THINK, f"no {self.think_open!r} block")]
        body_start = start + len(self.think_open)
        end = text.find(self.think_close, body_start)
        if end < 0:
            violations.append(Violation(ViolationKind.UNCLOSED_THINK, f"{self.think_open!r} never closed"))
            body, answer = text[body_start:], ""
        else:
            body, answer = text[body_start:end], text[end + len(self.think_close) :].strip()

        positions = self._header_positions(body, violations)
        if len(positions) < len(self.headers):
            return None, violations
        order = sorted(positions, key=lambda name: positions[name])
        if order != list(self.headers):
            violations.append(Violation(ViolationKind.PHASE_ORDER, f"phases appear as {order}"))
            return None, violations

        bounds = [positions[h] for h in self.headers] + [len(body)]
        sections = [
            body[bounds[i] + len(header) : bounds[i + 1]].strip() for i, header in enumerate(self.headers)
        ]
        understanding, assessment_block, reasoning = sections
        assessment, verdict = self._split_verdict(assessment_block, violations)
        for header, content in zip(self.headers, (understanding, assessment, reasoning), strict=True):
            if not content:
                violations.append(Violation(ViolationKind.EMPTY_PHASE, f"{header!r} is empty"))
        if end >= 0 and not answer:
            violations.append(Violation(ViolationKind.EMPTY_ANSWER, "nothing after the think block"))
        if verdict is None:
            return None, violations
        fields = TraceFields(understanding, assessment, verdict, reasoning, answer)
        return fields, violations

    def _header_positions(self, body: str, violations: list[Violation]) -> dict[str, int]:
        """Find each phase header at the start of a line; record missing and duplicated ones."""
        positions: dict[str, int] = {}
        for header in self.headers:
            hits = [m.start(1) for m in _line_start(header).finditer(body)]
            if not hits:
                violations.append(Violation(ViolationKind.MISSING_PHASE, f"{header!r} not found"))
                continue
            if len(hits) > 1:
                violations.append(Violation(ViolationKind.DUPLICATE_PHASE, f"{header!r} appears {len(hits)} times"))
            positions[header] = hits[0]
        return positions

    def _split_verdict(self, block: str, violations: list[Violation]) -> tuple[str, Label | None]:
        """Take the last verdict line out of the assessment phase and read its label."""
        words = {word.lower(): label for label, word in self.verdict_words.items()}
        matches = list(_verdict_line(self.verdict_prefix, tuple(words)).finditer(block))
        if not matches:
            violations.append(
                Violation(ViolationKind.NO_VERDICT, f"no '{self.verdict_prefix} <{'|'.join(words)}>' line")
            )
            return block, None
        last = matches[-1]
        assessment = (block[: last.start()] + block[last.end() :]).strip()
        return assessment, words[last.group(1).lower()]


#: the shipped Chinese markers (the issue's example); the think tags are the English set's
CHINESE_MARKERS = Markers(
    understanding_header="问题理解：",
    assessment_header="危害性评估：",
    reasoning_header="条件推理：",
    verdict_prefix="判定：",
    verdict_words={"harmful": "有害", "benign": "无害"},
)


def _default_languages() -> dict[str, Markers]:
    return {"zh": CHINESE_MARKERS}


class StructureSpec(Markers):
    """The markers of every language: the English set as its own fields, the others in ``languages``.

    ``parse``, ``validate``, ``render`` and ``skeleton`` take the row's ``language``
    (:func:`alttrain.languages.row_language`): in it, another language's markers are a violation. Without
    one, ``render`` and ``skeleton`` use the English set and ``parse`` and ``validate`` the set the text is
    written in (:meth:`language_of`). The shipped ``languages`` are left out of the config's dump, so a
    config that does not set them keeps its fingerprint.
    """

    languages: dict[str, Markers] = Field(default_factory=_default_languages)

    @field_validator("languages", mode="after")
    @classmethod
    def _with_shipped_languages(cls, languages: dict[str, Markers]) -> dict[str, Markers]:
        """A configured set adds to (or replaces one of) the shipped sets; codes compare in lower case."""
        return {**_default_languages(), **{code.strip().lower(): markers for code, markers in languages.items()}}

    @model_serializer(mode="wrap")
    def _without_default_languages(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data = handler(self)
        if self.languages == _default_languages():
            data.pop("languages", None)
        return data

    def markers(self, language: str | None) -> Markers:
        """The marker set of ``language`` (the English set for ``en``, None or a language without its own)."""
        chosen = self.languages.get(language or DEFAULT_LANGUAGE)
        return chosen if chosen is not None else self._english

    @cached_property
    def _english(self) -> Markers:
        """The English set as plain :class:`Markers` (this spec's own fields)."""
        return Markers(**{name: getattr(self, name) for name in Markers.model_fields})

    def language_of(self, text: str) -> str:
        """The language whose three phase headers all open a line of ``text`` (else the detected one).

        Tried in order: the detected language (:func:`alttrain.languages.detect_language`), English, the others.
        """
        detected = detect_language(text)
        for language in dict.fromkeys([detected, DEFAULT_LANGUAGE, *self.languages]):
            if all(_line_start(header).search(text) for header in self.markers(language).headers):
                return language
        return detected

    def render(self, fields: TraceFields, language: str | None = None) -> str:
        """Render fields in ``language``'s markers (None: the English set)."""
        return self.markers(language).render(fields)

    def skeleton(self, placeholders: TraceFields | None = None, language: str | None = None) -> str:
        """The skeleton in ``language``'s markers, with that language's :data:`SKELETONS` placeholders by default."""
        chosen = placeholders or SKELETONS.get(language or DEFAULT_LANGUAGE, SKELETON)
        return self.markers(language).skeleton(chosen)

    def parse(self, text: str, language: str | None = None) -> TraceFields:
        """Parse ``text`` in ``language``'s markers (None: :meth:`language_of`); see :meth:`Markers.parse`."""
        return self.markers(language or self.language_of(text)).parse(text)

    def validate(
        self, text: str, label: Label, mode: str | None = None, language: str | None = None
    ) -> list[Violation]:
        """Validate ``text`` in ``language``'s markers (None: :meth:`language_of`); see :meth:`Markers.validate`."""
        return self.markers(language or self.language_of(text)).validate(text, label, mode)


def joined(marker: str, text: str) -> str:
    """``marker`` then ``text``: a space between them, none after a full-width colon."""
    return f"{marker}{text}" if marker.endswith("：") else f"{marker} {text}"


@lru_cache(maxsize=64)
def _line_start(marker: str) -> re.Pattern[str]:
    """``marker`` at the start of a line (after spaces or tabs), as group 1; compiled once per marker."""
    return re.compile(rf"(?:^|\n)[ \t]*({re.escape(marker)})")


@lru_cache(maxsize=16)
def _verdict_line(prefix: str, words: tuple[str, ...]) -> re.Pattern[str]:
    """A whole ``<prefix> <word>`` line (any case, optional bold and full stop ``.``/``。``), the word as group 1."""
    alternatives = "|".join(re.escape(word) for word in words)
    pattern = rf"(?:^|\n)[ \t]*{re.escape(prefix)}[ \t]*\**[ \t]*({alternatives})\b\**[ \t]*[.。]?[ \t]*$"
    return re.compile(pattern, flags=re.IGNORECASE | re.MULTILINE)
