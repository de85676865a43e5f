"""Chat templates: the model's own, one shipped with alttrain (``models/chat_templates/``), or a file.

Training renders its data with the template ``training.chat_template`` names, and evaluation renders
prompts with the same one, so a model is tested on the very prompt format it was trained on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from alttrain.errors import ChatTemplateError

SHIPPED_TEMPLATES = ("chatml", "llama3", "deepseek_r1_distill", "qwen3")
DEFAULT_TEMPLATE = "chatml"
_GENERATION_MARKER = re.compile(r"\{%-?\s*generation\s*-?%\}")


@dataclass(frozen=True)
class ChatTemplate:
    """A chat template's text and where it came from (a shipped name, ``tokenizer`` or a file path)."""

    name: str
    text: str

    @property
    def has_generation_markers(self) -> bool:
        """Whether the template marks assistant output with ``{% generation %}``."""
        return bool(_GENERATION_MARKER.search(self.text))


def shipped_template(name: str) -> ChatTemplate:
    """One of the templates shipped under ``alttrain/models/chat_templates``."""
    if name not in SHIPPED_TEMPLATES:
        raise ChatTemplateError(f"unknown chat template {name!r}; shipped: {', '.join(SHIPPED_TEMPLATES)}")
    text = resources.files("alttrain.models").joinpath("chat_templates", f"{name}.j2").read_text("utf-8")
    return ChatTemplate(name=name, text=text)


def resolve_template(setting: str, tokenizer: Any) -> ChatTemplate:
    """The template ``training.chat_template`` names.

    ``auto`` is the tokenizer's own template, or generic ChatML when it has none; otherwise a shipped
    name or a path to a ``.jinja``/``.j2`` file.

    Raises:
        ChatTemplateError: for an unknown name or a missing file.

    """
    if setting == "auto":
        own = getattr(tokenizer, "chat_template", None)
        if isinstance(own, str) and own.strip():
            return ChatTemplate(name="tokenizer", text=own)
        return shipped_template(DEFAULT_TEMPLATE)
    if setting in SHIPPED_TEMPLATES:
        return shipped_template(setting)
    path = Path(setting).expanduser()
    if path.suffix in {".jinja", ".j2"}:
        if not path.is_file():
            raise ChatTemplateError(f"{path}: chat template file not found")
        return ChatTemplate(name=str(path), text=path.read_text("utf-8"))
    raise ChatTemplateError(
        f"chat_template {setting!r} is neither 'auto', a shipped name ({', '.join(SHIPPED_TEMPLATES)}) "
        "nor a .jinja/.j2 file"
    )
