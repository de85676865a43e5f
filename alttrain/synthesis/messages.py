"""Chat messages for the teacher, rendered from the versioned template files in ``synthesis/prompts/``.

Three requests exist: ``generate`` (the prompt only), ``rewrite`` (the prompt plus an existing
solution, restructured: its understanding kept, the assessment inserted, and for benign prompts its
solution and final answer kept, for harmful ones replaced by refusal reasoning) and ``repair`` (the
previous reply plus the validator's complaints, as a follow-up turn).

Decision: the prompt's dataset label is given to the teacher as a hint, with the instruction to
assess the request itself and to reach that verdict. The product makes *labelled* training data and
curation later keeps only traces whose verdict agrees with the label, so an unhinted teacher would
only waste requests (a mismatched verdict is repaired with the label in the complaint anyway). The
cost, accepted: the verdict is not an independent second opinion on the label.

The first request carries the safety policy's section for the row's category only (STAR-1 style: its
title, definition, response mode and what a good answer holds; :mod:`alttrain.policy`), never the whole
policy. User text (the prompt, an original trace) enters a request only as a JSON string, so it cannot forge
instructions or the label hint. Each template file opens with ``{#- version: N -#}``; the versions used
are recorded in every row (``template_version``) and, being part of the messages' wording, in every
cache key.

A request in another language than English (the row's ``language``, :mod:`alttrain.languages`) gets that
language's markers in the system prompt's format and ``language.j2`` after it: write the trace and the answer
in the request's language. Its rows record ``+language@N`` in ``template_version``; English requests are
built exactly as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jinja2

from alttrain.errors import TemplateError
from alttrain.languages import DEFAULT_LANGUAGE
from alttrain.policy import Resolution
from alttrain.structure import SKELETON, SKELETONS, StructureSpec

Mode = Literal["generate", "rewrite"]
Message = dict[str, str]

PROMPTS_DIR = Path(__file__).parent / "prompts"
_VERSION_HEADER = re.compile(r"^\{#-?\s*version:\s*(\S+?)\s*-?#\}")
#: how ``language.j2`` names a language and opens a refusal in it (other languages: by their code, in English)
LANGUAGE_NAMES = {"zh": "Chinese"}
REFUSAL_OPENINGS = {"zh": "抱歉，我无法提供这方面的帮助。"}


@cache
def _environment(folder: Path) -> jinja2.Environment:
    """Build a strict jinja2 environment over ``folder`` (undefined variables are errors)."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder), undefined=jinja2.StrictUndefined, autoescape=False
    )
    # user text goes into a prompt as a JSON string: quotes and newlines escaped, so a prompt cannot
    # close a delimiter, start a "Dataset label:" line of its own, or pass for an instruction
    environment.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False)
    return environment


def template_version(name: str, folder: Path = PROMPTS_DIR) -> str:
    """Read the version header of ``folder/<name>.j2``.

    Raises:
        TemplateError: when the file is missing or its first line is not a version header.

    """
    path = folder / f"{name}.j2"
    if not path.exists():
        raise TemplateError(f"{path}: prompt template not found")
    match = _VERSION_HEADER.match(path.read_text(encoding="utf-8"))
    if match is None:
        raise TemplateError(f"{path}: first line must be a version header like '{{#- version: 1 -#}}'")
    return match.group(1)


def render_template(folder: Path, name: str, **variables: Any) -> str:
    """Render ``folder/<name>.j2`` with ``variables``, stripped."""
    return _environment(folder).get_template(f"{name}.j2").render(**variables).strip()


class TraceMessages:
    """Builds the teacher's messages for one structure spec and output style.

    Args:
        spec: the structure markers (shown to text-mode teachers).
        structured: whether the teacher answers in JSON (schema-enforced) rather than trace text.
        max_chars: per-field character limits, stated in the system prompt when given.
        folder: where the template files live.

    """

    def __init__(
        self,
        spec: StructureSpec,
        *,
        structured: bool,
        max_chars: Mapping[str, int] | None = None,
        folder: Path = PROMPTS_DIR,
    ) -> None:
        self._spec = spec
        self._structured = structured
        self._max_chars = dict(max_chars or {})
        self._folder = folder
        names = ("system", "generate", "rewrite", "repair", "language")
        self._versions = {name: template_version(name, folder) for name in names}
        self._systems: dict[str, str] = {}

    def system(self, language: str = DEFAULT_LANGUAGE) -> str:
        """The system prompt for a request in ``language`` (built once per language)."""
        if language not in self._systems:
            markers = self._spec.markers(language)
            text = self._render(
                "system",
                structured=self._structured,
                example=markers.render(SKELETONS.get(language, SKELETON)),
                verdict_harmful=markers.verdict_line("harmful"),
                verdict_benign=markers.verdict_line("benign"),
                max_chars=self._max_chars,
            )
            if language != DEFAULT_LANGUAGE:
                note = self._render(
                    "language",
                    structured=self._structured,
                    language_name=LANGUAGE_NAMES.get(language, f"the language with ISO 639-1 code {language!r}"),
                    refusal=REFUSAL_OPENINGS.get(language, "I can't help with that"),
                )
                text = f"{text}\n\n{note}"
            self._systems[language] = text
        return self._systems[language]

    def version(self, mode: Mode, language: str = DEFAULT_LANGUAGE) -> str:
        """``system@N+<mode>@N+repair@N`` (``+language@N`` in another language): the templates behind a row."""
        names = ("system", mode, "repair") if language == DEFAULT_LANGUAGE else ("system", mode, "repair", "language")
        return "+".join(f"{name}@{self._versions[name]}" for name in names)

    def initial(self, record: Mapping[str, Any], mode: Mode, policy: Resolution) -> list[Message]:
        """Build the first request for a prompt record in ``mode``, with the policy section of its category only.

        The system prompt is the one of the record's ``language`` (English when it has none).
        """
        user = self._render(
            mode,
            prompt=record["prompt"],
            label=record["label"],
            original_reasoning=record.get("original_reasoning") or "",
            original_answer=record.get("original_answer") or "",
            policy=policy.category,
            policy_mode=policy.mode,
        )
        system = self.system(record.get("language") or DEFAULT_LANGUAGE)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def repair(self, initial: list[Message], previous_reply: str, complaints: list[str]) -> list[Message]:
        """Follow the initial request with the previous reply and a turn listing what to fix."""
        follow_up = self._render("repair", complaints=complaints, structured=self._structured)
        return [
            *initial,
            {"role": "assistant", "content": previous_reply},
            {"role": "user", "content": follow_up},
        ]

    def _render(self, name: str, **variables: Any) -> str:
        """Render ``name.j2`` with ``variables``, stripped."""
        return render_template(self._folder, name, **variables)
