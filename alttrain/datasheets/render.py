"""Render the datasheet and the dataset card from their jinja2 templates (files in ``templates/``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from huggingface_hub import DatasetCardData
from jinja2 import Environment, PackageLoader, StrictUndefined

from alttrain.datasheets.figures import Figure
from alttrain.datasheets.provenance import Provenance
from alttrain.layout import CARD_NAME, DATASHEET_NAME

NEEDS_HUMAN = "> **[needs a human]**"  # how the templates mark an open question
CARD_TAGS = ("safety", "alignment", "refusal", "reasoning", "chain-of-thought", "sft", "alttrain")


def _cell(value: object) -> str:
    """Make a value safe for one markdown table cell."""
    return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _kv(mapping: dict[str, Any]) -> str:
    """Render a small mapping inline: ``a: 1, b: 2``."""
    return ", ".join(f"{key}: {value}" for key, value in mapping.items())


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
    env.filters.update(cell=_cell, kv=_kv, flatten=flatten_report, redact_url=redact_url)
    return env


def card_data(provenance: Provenance, language: list[str]) -> DatasetCardData:
    """Build the card's YAML metadata: license, language, task categories, size, configs and tags."""
    reviewed = provenance.review is not None
    return DatasetCardData(
        pretty_name=provenance.pretty_name,
        license=provenance.licenses.card_license,
        language=language,
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
) -> tuple[Path, Path]:
    """Write ``DATASHEET.md`` and the card ``README.md`` into ``folder``; return their paths."""
    env = _environment()
    context = {
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
