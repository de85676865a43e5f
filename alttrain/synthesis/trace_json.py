"""The trace as JSON: the schema teachers are asked to follow and the reader of what they send back."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from alttrain.structure import LABELS, TraceFields

TraceField = Literal["understanding", "assessment", "verdict", "reasoning", "answer"]
FIELD_ORDER: tuple[TraceField, ...] = ("understanding", "assessment", "verdict", "reasoning", "answer")
SCHEMA_TITLE = "alttrain_trace"

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", flags=re.DOTALL)


class TraceJSONError(ValueError):
    """A reply that is not a usable JSON trace; ``complaints`` says every reason, for a repair prompt."""

    def __init__(self, complaints: list[str]) -> None:
        self.complaints = complaints
        super().__init__("; ".join(complaints))


def trace_schema(max_chars: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Build the JSON schema of a trace; ``max_chars`` caps fields with ``maxLength`` (for small models)."""
    limits = max_chars or {}
    properties: dict[str, Any] = {}
    for name in FIELD_ORDER:
        prop: dict[str, Any] = {"type": "string"}
        if name == "verdict":
            prop["enum"] = list(LABELS)
        elif name in limits:
            prop["maxLength"] = limits[name]
        properties[name] = prop
    return {
        "title": SCHEMA_TITLE,
        "type": "object",
        "properties": properties,
        "required": list(FIELD_ORDER),
        "additionalProperties": False,
    }


def parse_trace_json(text: str) -> TraceFields:
    """Read a JSON trace (a code fence around it is tolerated; extra keys are ignored).

    Raises:
        TraceJSONError: listing every problem (not JSON, not an object, missing or mistyped fields,
            a verdict outside harmful|benign).

    """
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    if not body:
        raise TraceJSONError(["the reply is empty"])
    try:
        data = json.loads(body)
    except json.JSONDecodeError as error:
        raise TraceJSONError([f"the reply is not valid JSON ({error.msg} at char {error.pos})"]) from None
    if not isinstance(data, dict):
        raise TraceJSONError([f"the reply is JSON {type(data).__name__}, not an object"])
    complaints = []
    for name in FIELD_ORDER:
        if name not in data:
            complaints.append(f"field {name!r} is missing")
        elif not isinstance(data[name], str):
            complaints.append(f"field {name!r} must be a string, got {type(data[name]).__name__}")
    verdict = data.get("verdict")
    if isinstance(verdict, str) and verdict.strip().lower() not in LABELS:
        complaints.append(f"field 'verdict' is {verdict!r}, must be one of {list(LABELS)}")
    if complaints:
        raise TraceJSONError(complaints)
    return TraceFields(
        understanding=data["understanding"].strip(),
        assessment=data["assessment"].strip(),
        verdict=data["verdict"].strip().lower(),
        reasoning=data["reasoning"].strip(),
        answer=data["answer"].strip(),
    )
