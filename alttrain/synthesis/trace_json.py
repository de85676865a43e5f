"""The trace as JSON: the schema teachers are asked to follow and the reader of what they send back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from alttrain.llm.repair import ReplyParseError, read_json_object
from alttrain.structure import LABELS, TraceFields

TraceField = Literal["understanding", "assessment", "verdict", "reasoning", "answer"]
FIELD_ORDER: tuple[TraceField, ...] = ("understanding", "assessment", "verdict", "reasoning", "answer")
SCHEMA_TITLE = "alttrain_trace"



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
        ReplyParseError: listing every problem (not JSON, not an object, missing or mistyped fields,
            a verdict outside harmful|benign).

    """
    data = read_json_object(text)
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
        raise ReplyParseError(complaints)
    return TraceFields(
        understanding=data["understanding"].strip(),
        assessment=data["assessment"].strip(),
        verdict=data["verdict"].strip().lower(),
        reasoning=data["reasoning"].strip(),
        answer=data["answer"].strip(),
    )
