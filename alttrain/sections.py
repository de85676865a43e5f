"""What every config section shares, below the stages: a fingerprint, readable errors, reading a user's YAML.

:class:`~alttrain.config.RunConfig` (layer 4) gathers the sections; stages hash and report their own
sections with these helpers without importing it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from alttrain.errors import AlttrainError

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


def read_yaml(path: Path, error: type[AlttrainError], what: str) -> Any:
    """The parsed content of the YAML file ``path``.

    Args:
        path: the file.
        error: what to raise, naming ``path``.
        what: what the file is, for the message of a missing one (``"config file"``).

    Raises:
        AlttrainError: ``error``, when the file is missing or not valid YAML.

    """
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as problem:
        raise error(f"{path}: not valid YAML ({problem})") from None
