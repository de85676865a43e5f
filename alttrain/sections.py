"""What every config section shares, below the stages: a versioned fingerprint and readable validation errors.

:class:`~alttrain.config.RunConfig` (layer 4) gathers the sections; stages hash and report their own
sections with these helpers without importing it.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ValidationError

CONFIG_VERSION = 1


def fingerprint(model: BaseModel) -> str:
    """A versioned hash of a config (or any config section): ``v<version>-<16 hex>``."""
    canonical = json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return f"v{CONFIG_VERSION}-{hashlib.sha256(canonical.encode()).hexdigest()[:16]}"


def describe(error: ValidationError, origin: str) -> str:
    """Render a validation error as one line per bad key, ``origin: a.b.c: message``."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "<root>"
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{origin}: {key}: {message}")
    return "\n".join(lines)
