"""Check one rendered, tokenized example before training: the loss must land on the whole trace.

It decodes the exact ``input_ids``/``labels`` the trainer will see and fails loudly when

* the think block is lost (a template that strips ``<think>`` from assistant turns),
* the trace is altered or the answer is missing from the rendered text,
* the loss mask covers any of the prompt, or
* the loss mask misses part of the trace (from the first phase header to the end of the answer).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from alttrain.errors import TemplateCheckError
from alttrain.structure import Markers, StructureSpec, TraceFields, TraceParseError, ViolationKind
from alttrain.training.chat import IGNORE_INDEX, Message, TokenizedExample, conversation_language


@dataclass(frozen=True)
class TemplateCheck:
    """What the check saw in one example (written into the training report)."""

    total_tokens: int
    trained_tokens: int
    prompt_tokens_trained: int
    trace_tokens_missed: int
    eos_trained: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def check_example(
    example: TokenizedExample, messages: list[Message], tokenizer: Any, spec: StructureSpec
) -> TemplateCheck:
    """Check that ``example`` trains exactly the trace of ``messages``' final assistant turn.

    Raises:
        TemplateCheckError: listing every problem found.

    """
    spans, text = _token_spans(tokenizer, example.input_ids)
    trained = [label != IGNORE_INDEX for label in example.labels]
    problems: list[str] = []
    if not any(trained):
        problems.append("no token carries loss")

    markers = spec.markers(conversation_language(messages))
    expected = markers.parse(messages[-1]["content"])
    user = messages[-2]["content"].strip()
    prompt_start = text.find(user)
    if prompt_start < 0:
        raise TemplateCheckError(problems + ["the user prompt does not appear in the rendered example"])
    prompt_end = prompt_start + len(user)

    prompt_trained = sum(1 for (start, _), bit in zip(spans, trained, strict=True) if bit and start < prompt_end)
    if prompt_trained:
        problems.append(f"the loss mask covers {prompt_trained} prompt token(s)")

    response = text[prompt_end:]
    rendered = _parse_rendered(response, markers, problems)
    missed = 0
    if rendered is not None:
        _compare(expected, rendered, problems)
        trace_start = prompt_end + response.find(markers.understanding_header)
        answer_at = text.find(expected.answer.strip(), trace_start)
        if answer_at >= 0:
            trace_end = answer_at + len(expected.answer.strip())
            missed = sum(
                1
                for (start, end), bit in zip(spans, trained, strict=True)
                if not bit and end > trace_start and start < trace_end and end > start
            )
            if missed:
                problems.append(f"the loss mask misses {missed} token(s) of the trace")

    check = TemplateCheck(
        total_tokens=len(example.input_ids),
        trained_tokens=sum(trained),
        prompt_tokens_trained=prompt_trained,
        trace_tokens_missed=missed,
        eos_trained=any(
            bit and tok == tokenizer.eos_token_id for tok, bit in zip(example.input_ids, trained, strict=True)
        ),
    )
    if problems:
        raise TemplateCheckError(problems)
    return check


def _parse_rendered(response: str, spec: Markers, problems: list[str]) -> TraceFields | None:
    """Parse the rendered response; record a lost think block or a broken structure as a problem."""
    try:
        return spec.parse(response)
    except TraceParseError as error:
        kinds = {violation.kind for violation in error.violations}
        if ViolationKind.NO_THINK in kinds:
            problems.append(f"the think block is lost: no {spec.think_open!r} after the prompt in the rendering")
        elif kinds == {ViolationKind.EMPTY_ANSWER}:
            problems.append("the answer is missing from the rendering")
        else:
            problems.append(f"the trace does not survive rendering ({error})")
        return None


def _compare(expected: TraceFields, rendered: TraceFields, problems: list[str]) -> None:
    """Record every phase the rendering altered, and a missing answer."""
    for name in ("understanding", "assessment", "verdict", "reasoning"):
        if _norm(getattr(expected, name)) != _norm(getattr(rendered, name)):
            problems.append(f"the rendering alters the {name} phase")
    if _norm(expected.answer) not in _norm(rendered.answer):
        problems.append("the answer is missing from the rendering")


def _norm(text: str) -> str:
    """Whitespace-collapsed text, for comparisons that templates' spacing must not break."""
    return " ".join(text.split())


def _token_spans(tokenizer: Any, ids: list[int]) -> tuple[list[tuple[int, int]], str]:
    """Character span of every token in the decoded text, and the text (decoded prefix by prefix)."""
    spans = []
    previous = 0
    for index in range(1, len(ids) + 1):
        length = len(tokenizer.decode(ids[:index], skip_special_tokens=False, clean_up_tokenization_spaces=False))
        spans.append((previous, max(previous, length)))
        previous = max(previous, length)
    text = tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    return spans, text
