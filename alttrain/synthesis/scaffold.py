"""``synthesis.prefill: phases``: the model writes each phase of its trace, the harness writes the structure.

A small model nudged to write the whole structure rarely does (SmolLM2-135M writes no later phase header). With
the scaffold, the harness writes only the structure's fixed strings, in the row's language: the think marker
and each phase header, the verdict prefix, the think close; the model writes everything between them,
continuing its own assistant turn step by step (:data:`STEPS`):

1. ``<think>`` ``Problem understanding:`` -> the model's understanding;
2. ``Harmfulness assessment:`` -> its assessment;
3. ``Verdict:`` -> the model's verdict. With a backend that picks among choices (``supports_choices``:
   transformers) the model's own likelihood decides: the request's ``choices`` are the language's two verdict
   words as they follow the prefix, and the more likely one is the verdict (a small model asked to write a word
   here often writes "harmless" or "dangerous", no verdict word). Elsewhere the model writes
   :data:`VERDICT_TOKENS` tokens, of which the first verdict word of the first line (``harmful``/``benign`` or
   the language's words) is its verdict. The harness writes the verdict line with that word (what else the
   model wrote after it is dropped);
4. ``Conditional reasoning:`` -> its reasoning;
5. ``</think>`` -> its final answer.

Each step is one more prefilled request per sample (the conversation so far, its last assistant message the
trace so far) through :meth:`~alttrain.llm.client.TeacherClient.complete_many`, every sample of a step together
(transformers decodes them in padded batches), cached under the usual key. A piece ends at the first marker of
the structure or the end of the model's turn, and (what the model wrote after it is dropped) the understanding
and the assessment at the end of their line (one line each, as the structure puts them), the reasoning and the
answer at a blank line; when a reasoning or an answer runs to ``max_tokens`` (per phase) its complete lines are
kept. A piece with nothing kept is cut off. A sample whose piece is cut off or empty, or whose verdict is
unreadable, stops there (:class:`UnfinishedTrace`, with the complaint and the text so far); a finished one is
validated as every trace is (label consistency, refusal, quote), so the structure holds by construction and
the content is the model's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from alttrain.errors import CacheMissError
from alttrain.llm.client import TeacherClient
from alttrain.llm.types import TeacherError, TeacherRequest, TeacherResponse
from alttrain.structure import Label, Markers, ViolationKind, joined

#: the value of ``synthesis.prefill`` that scaffolds every phase
PHASES = "phases"
#: tokens the model writes after the verdict prefix, from which its verdict word is read
VERDICT_TOKENS = 6
#: what the model writes at each step: a phase's text, its verdict word, or the final answer
Step = Literal["understanding", "assessment", "verdict", "reasoning", "answer"]
STEPS: tuple[Step, ...] = ("understanding", "assessment", "verdict", "reasoning", "answer")
#: the steps whose piece is one line (the others end at a blank line)
ONE_LINE: tuple[Step, ...] = ("understanding", "assessment")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class UnfinishedTrace:
    """A scaffolded sample the model left unfinished: the trace so far (with its tokens) and why it stopped."""

    response: TeacherResponse
    complaint: str


ScaffoldOutcome = TeacherResponse | TeacherError | CacheMissError | UnfinishedTrace


def marker_for(step: Step, markers: Markers) -> str:
    """The fixed string the harness writes before ``step`` (the first step's is the whole opening)."""
    return {"understanding": markers.opening, "assessment": markers.assessment_header,
            "verdict": markers.verdict_prefix, "reasoning": markers.reasoning_header,
            "answer": markers.think_close}[step]  # fmt: skip


def piece_of(step: Step, answer: TeacherResponse, markers: Markers) -> str | None:
    """The model's piece of ``step`` (:mod:`module doc <alttrain.synthesis.scaffold>`), or None when it is cut off."""
    text = answer.text.lstrip()
    every_marker = (markers.think_open, markers.think_close, *markers.headers, markers.verdict_prefix)
    stops = [position for marker in every_marker if (position := text.find(marker)) >= 0]
    end_of_piece = text.find("\n") if step in ONE_LINE else next((m.start() for m in _BLANK_LINE.finditer(text)), -1)
    stops += [end_of_piece] if end_of_piece >= 0 else []
    if stops:
        return text[: min(stops)].rstrip()
    if answer.finish_reason != "length":  # the model ended its turn
        return text.rstrip()
    lines = text.rpartition("\n")[0].rstrip() if step not in ONE_LINE else ""
    return lines or None


def verdict_of(text: str, markers: Markers) -> Label | None:
    """The first verdict word in the first line of ``text`` (case aside), or None."""
    line = text.strip().split("\n", 1)[0].lower()
    found = [(line.find(word.lower()), label) for label, word in markers.verdict_words.items()]
    found = [(position, label) for position, label in found if position >= 0]
    return min(found)[1] if found else None


def verdict_choices(markers: Markers) -> tuple[str, ...]:
    """The language's verdict words as they follow its verdict prefix (``" harmful"``, ``" benign"``)."""
    return tuple(markers.verdict_line(label).removeprefix(markers.verdict_prefix) for label in markers.verdict_words)


@dataclass
class Draft:
    """One sample being written: its nudged conversation, the trace so far and how it ended (None: going on)."""

    request: TeacherRequest
    markers: Markers
    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ended: ScaffoldOutcome | None = None

    def ask(self, step: Step, *, choose: bool = False) -> TeacherRequest:
        """The request of ``step``: the trace so far with the step's marker, as the assistant's turn to continue.

        With ``choose``, the verdict step asks the model to pick one of the verdict words (:func:`verdict_choices`).
        """
        marker = marker_for(step, self.markers)
        self.text = marker if step == "understanding" else f"{self.text}\n{marker}"
        messages = [*self.request.messages, {"role": "assistant", "content": self.text}]
        max_tokens = VERDICT_TOKENS if step == "verdict" else self.request.sampling.max_tokens
        choices = verdict_choices(self.markers) if step == "verdict" and choose else None
        sampling = replace(self.request.sampling, max_tokens=max_tokens)
        return replace(self.request, messages=messages, sampling=sampling, choices=choices)

    def take(self, step: Step, answer: TeacherResponse) -> None:
        """Add the model's piece of ``step`` to the trace, or end the draft with why it cannot go on."""
        self.prompt_tokens += answer.prompt_tokens
        self.completion_tokens += answer.completion_tokens
        if step == "verdict":
            verdict = verdict_of(answer.text, self.markers)
            if verdict is None:
                self.text = joined(self.text, answer.text.strip())  # kept for inspection
                words = answer.text.strip()[:60].replace(";", ",")  # a reason's complaints are split at '; '
                self._stop(f"{ViolationKind.NO_VERDICT.value}: after {self.markers.verdict_prefix!r} the model wrote "
                           f"{words!r}, no verdict word")  # fmt: skip
            else:
                self.text = f"{self.text.removesuffix(self.markers.verdict_prefix)}{self.markers.verdict_line(verdict)}"
            return
        piece = piece_of(step, answer, self.markers)
        marker = marker_for(step, self.markers)
        if piece is None:
            self.text = joined(self.text, answer.text.strip())  # kept for inspection
            self._stop(f"cut off: {marker!r} ran to max_tokens ({self.request.sampling.max_tokens} per phase) "
                       f"without {'a line break' if step in ONE_LINE else 'a complete line'}")  # fmt: skip
        elif not piece:
            kind = ViolationKind.EMPTY_ANSWER if step == "answer" else ViolationKind.EMPTY_PHASE
            self._stop(f"{kind.value}: the model wrote nothing after {marker!r}")
        else:
            self.text = f"{self.text}\n{piece}" if step == "answer" else joined(self.text, piece)
            if step == "answer":
                self.ended = self.response()

    def response(self) -> TeacherResponse:
        """The trace so far as one response, with the tokens of every step."""
        return TeacherResponse(self.text, None, self.prompt_tokens, self.completion_tokens, "stop")

    def _stop(self, complaint: str) -> None:
        self.ended = UnfinishedTrace(self.response(), complaint)


async def write_in_phases(
    client: TeacherClient, requests: list[TeacherRequest], markers: list[Markers]
) -> list[ScaffoldOutcome]:
    """Each request's trace, written phase by phase (``markers``: each request's language's), steps in turn.

    The verdict is the model's likelihood choice where the client's backend supports choices.

    Returns, per request: the finished trace (to be validated), an :class:`UnfinishedTrace`, the
    :class:`~alttrain.llm.types.TeacherError` a step failed with, or a :class:`~alttrain.errors.CacheMissError`
    (offline, a step not in the cache).
    """
    drafts = [Draft(request, language) for request, language in zip(requests, markers, strict=True)]
    for step in STEPS:
        going = [draft for draft in drafts if draft.ended is None]
        if not going:
            break
        answers = await client.complete_many([draft.ask(step, choose=client.supports_choices) for draft in going])
        for draft, answer in zip(going, answers, strict=True):
            if isinstance(answer, TeacherResponse):
                draft.take(step, answer)
            else:
                draft.ended = answer
    return [draft.ended for draft in drafts if draft.ended is not None]
