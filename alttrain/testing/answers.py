"""What the fault server answers: a fault plan, the fault each request gets, and valid traces otherwise.

A request's fault comes, in this order, from the plan's ``by_order`` (the n-th completion request
the server receives, counting from 1), from a marker in its first user message, or is ``ok``.
Markers: ``[[fault:KIND]]`` (every request for that prompt) and ``[[faults:K1,K2,...]]`` (the n-th
request for that prompt gets the n-th kind, then ``ok``). A fault-free answer is a valid trace whose
verdict follows ``[[label:harmful|benign]]`` or the ``Dataset label: ...`` line of the prompt
templates (default benign): JSON when the request asks for a ``json_schema``, trace text otherwise.
With ``verdicts="content"`` the server ignores the label and judges the request text itself, by
keywords (:data:`HARM_WORDS`), as an independent teacher would: it can disagree with the label, so
tests see what the validators do with a wrong verdict. The ``complies`` and ``refuses`` faults answer a
harmful request without refusing and refuse a benign one, with placeholder text only.
A fault-free request whose prompt carries ``[[reply:NAME]]`` gets the plan's ``replies[NAME]`` as
its content verbatim instead (for judges, whose answers are not traces). Batch lines get their faults the
same way; whole batches get :class:`BatchFault` by creation order (see :mod:`alttrain.testing.batches`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

from alttrain.structure import StructureSpec, TraceFields


class Fault(StrEnum):
    """Every way the server can answer a completion request."""

    OK = "ok"
    RATE_LIMIT = "rate_limit"  # 429 with Retry-After
    SERVER_ERROR = "server_error"  # 500
    BAD_REQUEST = "bad_request"  # 400 (permanent)
    HANG = "hang"  # no answer until hang_s: the client times out
    TRUNCATED = "truncated"  # Content-Length promises more than is sent, then the connection closes
    MALFORMED_JSON = "malformed_json"  # 200 with a body that is not JSON
    NO_CHOICES = "no_choices"  # 200 with JSON that is not a chat completion
    WRONG_SCHEMA = "wrong_schema"  # a completion whose content is JSON of the wrong shape
    REFUSAL_JUNK = "refusal_junk"  # a completion whose content is a bare refusal, no structure
    EMPTY = "empty"  # a completion with empty content
    WRONG_VERDICT = "wrong_verdict"  # a well-formed trace with the opposite verdict
    COMPLIES = "complies"  # the verdict its judgment gives, but an answer that goes along (never a refusal)
    REFUSES = "refuses"  # the verdict its judgment gives, but an answer that refuses
    CUT_OFF = "cut_off"  # finish_reason "length" with unfinished content
    WRONG_TYPES = "wrong_types"  # a valid trace whose usage.prompt_tokens is "n/a" (a field of the wrong type)
    OTHER_MODEL = "other_model"  # a valid trace whose body names another model (OTHER_MODEL_NAME)


HTTP_FAULTS = frozenset(
    {Fault.RATE_LIMIT, Fault.SERVER_ERROR, Fault.BAD_REQUEST, Fault.HANG, Fault.TRUNCATED}
)


class BatchFault(StrEnum):
    """Scripted faults of a whole batch (the n-th batch created gets ``FaultPlan.batch_faults[n]``)."""

    FAIL_VALIDATION = "fail_validation"  # status failed with errors; no line answered
    EXPIRE = "expire"  # status expired with the first half of its lines answered, the rest missing
    ERROR_LINES = "error_lines"  # every second line answered in the error file (HTTP 500), the others normally
    OUT_OF_ORDER = "out_of_order"  # the output file lists the answers in reverse order

_ALWAYS = re.compile(r"\[\[fault:([a-z_]+)\]\]")
_SEQUENCE = re.compile(r"\[\[faults:([a-z_,]+)\]\]")
_REPLY = re.compile(r"\[\[reply:([A-Za-z0-9_-]+)\]\]")
_LABEL_MARKER = re.compile(r"\[\[label:(harmful|benign)\]\]")
_LABEL_LINE = re.compile(r"^Dataset label: (harmful|benign)\s*$", flags=re.MULTILINE)

BENIGN_TRACE = TraceFields(
    understanding="The request asks for a worked answer to a well-defined task.",
    assessment="Answering helps the asker and harms no one; no harm category applies.",
    verdict="benign",
    reasoning="Work through the task step by step, then check the result against the question.",
    answer="The answer follows from the steps above.",
)
HARMFUL_TRACE = TraceFields(
    understanding="The request asks for help with something that could hurt people.",
    assessment="Fulfilling it could cause serious harm to others; it falls in a prohibited category.",
    verdict="harmful",
    reasoning="Helping would enable harm, so no details; general safety information is safe to share.",
    answer="I can't help with that. I can point you to general safety resources instead.",
)
REFUSAL_JUNK = "I'm sorry, but I can't help with that."
OTHER_MODEL_NAME = "some-other-model"
COMPLYING_ANSWER = "Sure. Step 1: [placeholder]. Step 2: [placeholder]. That completes the request."
#: words that make ``verdicts="content"`` judge a request harmful (a crude, fallible teacher on purpose)
HARM_WORDS = ("weapon", "bomb", "explosive", "poison", "kill", "steal", "hack", "malware", "fraud", "attack")
_JSON_REQUEST = re.compile(r'^"(?:[^"\\]|\\.)*"$', flags=re.MULTILINE)


@dataclass
class FaultPlan:
    """How the server behaves: latency, scripted faults and their parameters (JSON-serialisable)."""

    latency_s: float = 0.0
    by_order: dict[int, Fault] = field(default_factory=dict)
    retry_after_s: float = 0.05
    hang_s: float = 30.0
    reasoning_content: str | None = None  # sent as message.reasoning_content when set
    record_requests: bool = False  # keep every completion request (thread mode: FaultServer.recorded())
    model: str = "fault-teacher"
    replies: dict[str, str] = field(default_factory=dict)  # scripted contents chosen by [[reply:NAME]]
    verdicts: Literal["label", "content"] = "label"  # follow the label hint, or judge the request text
    api_key: str | None = None  # when set, other keys get 401 (the body echoes the key, as OpenAI's does)
    models: list[str] | None = None  # when set, other models get 404
    batch_faults: dict[int, BatchFault] = field(default_factory=dict)  # by batch creation order, from 1
    batch_polls: int = 1  # retrieves a batch spends in each of validating, in_progress and finalizing
    # seconds to hold the answer to "upload", "create", "retrieve" or "content" after acting (kill windows)
    batch_delays: dict[str, float] = field(default_factory=dict)
    page_limit: int = 100  # items a list of files or batches answers per page, at most (the SDK pages on)
    output_file_id: str | None = None  # when set, the id every finished batch's output file gets (a hostile one)

    def to_json(self) -> str:
        """Serialise for a server subprocess."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> FaultPlan:
        """Read what :meth:`to_json` wrote, or any part of it (missing settings keep their defaults)."""
        data = json.loads(text)
        data["by_order"] = {int(order): Fault(kind) for order, kind in data.get("by_order", {}).items()}
        data["batch_faults"] = {int(n): BatchFault(kind) for n, kind in data.get("batch_faults", {}).items()}
        return cls(**data)


class FaultScript:
    """Decides each completion request's fault, counting requests overall and per prompt."""

    def __init__(self, plan: FaultPlan) -> None:
        self._plan = plan
        self.received = 0
        self._per_prompt: Counter[str] = Counter()

    def next_fault(self, body: dict[str, Any]) -> Fault:
        """Count one request and return its fault."""
        self.received += 1
        prompt = first_user_message(body)
        seen = self._per_prompt[prompt]
        self._per_prompt[prompt] += 1
        if self.received in self._plan.by_order:
            return self._plan.by_order[self.received]
        always = _ALWAYS.search(prompt)
        if always:
            return Fault(always.group(1))
        sequence = _SEQUENCE.search(prompt)
        if sequence:
            kinds = sequence.group(1).split(",")
            return Fault(kinds[seen]) if seen < len(kinds) else Fault.OK
        return Fault.OK


def first_user_message(body: dict[str, Any]) -> str:
    """Return the first user message of a chat request (the prompt; repairs repeat it), or ''."""
    for message in body.get("messages") or []:
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def request_text(message: str) -> str:
    """The user's request inside a teacher prompt (its first JSON-string line), or the whole message."""
    found = _JSON_REQUEST.search(message)
    return str(json.loads(found.group(0))) if found else message


def judged_harmful(body: dict[str, Any], verdicts: str) -> bool:
    """The server's verdict: from the label hint, or (``content``) from harm words in the request."""
    prompt = first_user_message(body)
    if verdicts == "content":
        text = request_text(prompt).lower()
        return any(re.search(rf"\b{word}", text) for word in HARM_WORDS)
    found = _LABEL_MARKER.search(prompt) or _LABEL_LINE.search(prompt)
    return found is not None and found.group(1) == "harmful"


def trace_for(body: dict[str, Any], fault: Fault = Fault.OK, verdicts: str = "label") -> TraceFields:
    """The trace for a request: the server's verdict (flipped by ``wrong_verdict``), with the answer a fault asks."""
    harmful = judged_harmful(body, verdicts) != (fault == Fault.WRONG_VERDICT)
    fields = HARMFUL_TRACE if harmful else BENIGN_TRACE
    if fault == Fault.COMPLIES:
        return replace(fields, answer=COMPLYING_ANSWER)
    if fault == Fault.REFUSES:
        return replace(fields, answer=REFUSAL_JUNK)
    return fields


def answer_content(body: dict[str, Any], fault: Fault, verdicts: str = "label") -> tuple[str, str]:
    """Return content and finish reason of a completion for a fault-free or content-level fault."""
    schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema")
    if fault == Fault.REFUSAL_JUNK:
        return REFUSAL_JUNK, "stop"
    if fault == Fault.EMPTY:
        return "", "stop"
    if fault == Fault.WRONG_SCHEMA:
        return json.dumps({"response": "done", "verdict": "maybe"}), "stop"
    fields = trace_for(body, fault, verdicts)
    if schema is not None:
        limits = {name: prop.get("maxLength") for name, prop in schema.get("properties", {}).items()}
        data = {name: value[: limits.get(name) or None] for name, value in asdict(fields).items()}
        content = json.dumps(data)
    else:
        content = StructureSpec().render(fields)
    if fault == Fault.CUT_OFF:
        return content[: len(content) // 2], "length"
    return content, "stop"


def completion_body(body: dict[str, Any], fault: Fault, plan: FaultPlan, number: int) -> dict[str, Any]:
    """Build a chat-completion response body for ``body`` under a content-level ``fault``."""
    reply = _REPLY.search(first_user_message(body))
    if fault == Fault.OK and reply is not None and reply.group(1) in plan.replies:
        content, finish = plan.replies[reply.group(1)], "stop"
    else:
        content, finish = answer_content(body, fault, plan.verdicts)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if plan.reasoning_content is not None:
        message["reasoning_content"] = plan.reasoning_content
    prompt_chars = sum(len(str(m.get("content") or "")) for m in body.get("messages") or [])
    prompt_tokens, completion_tokens = prompt_chars // 4 + 1, len(content) // 4 + 1
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": 0,
        "model": OTHER_MODEL_NAME if fault == Fault.OTHER_MODEL else body.get("model", plan.model),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": "n/a" if fault == Fault.WRONG_TYPES else prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
