"""Render the datasheet and the dataset card from their jinja2 templates (files in ``templates/``).

Every string that comes from data or config (source names, licenses, categories, reasons, reviewers'
figures, teacher and maintainer names) goes through a filter before it reaches a document: ``md`` (and
its table alias ``cell``) for text, ``code`` for an inline code span, ``fenced`` for a code block, so a
value can never add markup: no HTML, no link or image, no heading, list or quote, no extra table
column, no closed code fence. The card's YAML front matter holds the same escaped text on one line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from huggingface_hub import DatasetCardData
from jinja2 import Environment, PackageLoader, StrictUndefined

from alttrain.datasheets.figures import Figure
from alttrain.datasheets.gap import GapRow
from alttrain.datasheets.provenance import Provenance
from alttrain.layout import CARD_NAME, DATASHEET_NAME

NEEDS_HUMAN = "> **[needs a human]**"  # how the templates mark an open question
CARD_TAGS = ("safety", "alignment", "refusal", "reasoning", "chain-of-thought", "sft", "alttrain")


_LINE_BREAKS = re.compile(r"\r\n|[\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# ASCII punctuation that starts markup anywhere in a line: escapes, code, emphasis, links and images,
# HTML and autolinks, table cells, headings, entities, strikethrough
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|#&~])")
_MD_EDGE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")  # emphasis; snake_case stays as is
_MD_LIST_ITEM = re.compile(r"^(\d{1,9}(?=[.)](?:\s|$))|(?=[-+=](?![0-9])))")  # "1. x", "- x", "---", "==="
_BACKTICKS = re.compile(r"`+")


def one_line(value: object) -> str:
    """Return ``value`` as text on one line: line breaks, tabs and control characters become spaces."""
    return _CONTROL.sub(" ", _LINE_BREAKS.sub(" ", str(value)))


def md(value: object) -> str:
    """Escape a data-derived value as Markdown text that renders as itself and adds no markup.

    The value is put on one line, then every character that could open markup (backslash, backtick,
    ``*``, ``_`` at a word's edge, brackets, angle brackets, ``|``, ``#``, ``&``, ``~``) is
    backslash-escaped, and so is a leading ``-``, ``+``, ``=`` (not a sign: ``-0.5`` stays) or ``1.``
    that would start a list, draw a rule or underline a heading. It is safe in a table cell, in running
    text and at the start of a line. (A bare ``http://host.tld`` may still be auto-linked by a GFM
    renderer; it then shows its own address, never a disguised one.)
    """
    text = _MD_SPECIAL.sub(r"\\\1", one_line(value).strip())
    text = _MD_EDGE_UNDERSCORE.sub(r"\\_", text)
    return _MD_LIST_ITEM.sub(r"\1\\", text, count=1)


def code(value: object, table: bool = False) -> str:
    """Return a data-derived value as one inline code span, whatever backticks it holds.

    The fence is one backtick longer than the longest run in the value, padded with a space where the
    value starts or ends with a backtick. ``table=True`` escapes ``|`` as a table cell needs.
    """
    text = one_line(value)
    fence = "`" * (max(map(len, _BACKTICKS.findall(text)), default=0) + 1)
    if not text:
        return "` `"
    if text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " "):
        text = f" {text} "
    if table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def fenced(value: object, info: str = "") -> str:
    """Return ``value`` as a fenced code block whose fence no line of the value can close."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    fence = "`" * max(3, max(map(len, _BACKTICKS.findall(text)), default=0) + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _kv(mapping: dict[str, Any]) -> str:
    """Render a small mapping inline, keys and values escaped: ``a: 1, b: 2``."""
    return ", ".join(f"{md(key)}: {md(value)}" for key, value in mapping.items())


def flatten_report(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Flatten nested report JSON into ``(dotted.key, scalar)`` pairs, in the report's order."""
    if isinstance(data, dict):
        pairs: list[tuple[str, Any]] = []
        for key, value in data.items():
            pairs += flatten_report(value, f"{prefix}.{key}" if prefix else str(key))
        return pairs
    if isinstance(data, list):
        if all(not isinstance(item, dict | list) for item in data):
            return [(prefix, ", ".join(map(str, data)) or "(none)")]
        pairs = []
        for index, item in enumerate(data):
            name = item.get("name") if isinstance(item, dict) else None
            pairs += flatten_report(item, f"{prefix}.{name if isinstance(name, str) else index}")
        return [(key, value) for key, value in pairs if not key.endswith(".name")]
    return [(prefix, data)]


def redact_url(url: str) -> str:
    """Drop credentials, query and fragment from a URL (a key must never reach a document)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _environment() -> Environment:
    """Build the template environment: package templates, strict about undefined names, markdown filters."""
    env = Environment(
        loader=PackageLoader("alttrain.datasheets", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701  (markdown, not HTML)
    )
    env.filters.update(md=md, cell=md, code=code, fenced=fenced, kv=_kv, flatten=flatten_report, redact_url=redact_url)
    return env


def card_data(provenance: Provenance, language: list[str]) -> DatasetCardData:
    """Build the card's YAML metadata: license, language, task categories, size, configs and tags.

    The strings from config or data (name, license, languages) are escaped as in the body and kept on
    one line; ``DatasetCardData.to_yaml`` quotes them as YAML needs.
    """
    reviewed = provenance.review is not None
    card_license = provenance.licenses.card_license
    return DatasetCardData(
        pretty_name=md(provenance.pretty_name),
        license=md(card_license) if isinstance(card_license, str) else [md(item) for item in card_license],
        language=[md(item) for item in language],
        multilinguality="monolingual" if len(language) == 1 else "multilingual",
        size_categories=[provenance.size_category],
        task_categories=["text-generation"],
        annotations_creators=["machine-generated", "expert-generated"] if reviewed else ["machine-generated"],
        language_creators=["found", "machine-generated"],
        source_datasets=["extended"],
        tags=list(CARD_TAGS),
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}],
    )


def render_documents(
    provenance: Provenance,
    figures: list[Figure],
    export_rows: int,
    language: list[str],
    hub_repo: str | None,
    folder: Path,
    gap: list[GapRow],
) -> tuple[Path, Path]:
    """Write ``DATASHEET.md`` and the card ``README.md`` into ``folder``; return their paths (``gap``: the NLLs)."""
    env = _environment()
    context = {
        "gap": gap,
        "p": provenance,
        "figures": {figure.name: figure for figure in figures},
        "exports": {"rows": export_rows},
        "hub_repo": hub_repo,
        "front_matter": card_data(provenance, language).to_yaml(),
    }
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in (DATASHEET_NAME, CARD_NAME):
        path = folder / name
        text = env.get_template(f"{name}.j2").render(context)
        path.write_text(re.sub(r"\n{3,}", "\n\n", text), encoding="utf-8")  # at most one blank line
        written.append(path)
    return written[0], written[1]
