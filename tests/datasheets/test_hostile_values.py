"""Data-derived strings cannot add markup to DATASHEET.md or the card: a real run whose source name,
license, category, maintainer, pretty name and review reasons are hostile Markdown/HTML, through the
real datasheet stage, read back with a CommonMark + GFM-tables parser."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest
import yaml
from huggingface_hub import DatasetCard
from markdown_it import MarkdownIt
from markdown_it.token import Token

import alttrain
from alttrain.datasheets.render import code, fenced, md, one_line

from .runs import NEUTRAL_ANSWERS, NEUTRAL_PROMPTS, Run, build_run, write_jsonl

HOSTILE = "a|b <script>x</script> [link](http://x) \n# heading"
HOSTILE_SOURCE = "src|<img src=x onerror=alert(1)>`tick`"
HOSTILE_LICENSE = "Custom <b>licence</b> | see [here](http://evil.example)"
HOSTILE_MAINTAINER = "# Mallory <i>x</i>\n- item\n<details>open</details>"
HOSTILE_NAME = "Evil ---\n---\n<script>alert(1)</script> [x](http://evil.example)"
HOSTILE_REASON = "review:<b>bad</b>|extra\n## injected"
# an unescaped tag or link of the hostile values (an escaped one is preceded by a backslash)
RAW_MARKUP = re.compile(r"(?<!\\)<(script|img|details|i|b)\b|(?<!\\)\]\(http")


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _walk(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for token in tokens:
        out.append(token)
        out += _walk(token.children or [])
    return out


def _text(inline: Token) -> str:
    """The plain text of an inline token, as a reader sees it."""
    return "".join(c.content for c in inline.children or [] if c.type in {"text", "code_inline"})


def _cells(line: str) -> int:
    """Cells of a raw table row: ``|`` not escaped by an odd run of backslashes separates them."""
    pipes = [m for m in re.finditer(r"(\\*)\|", line) if len(m.group(1)) % 2 == 0]
    return len(pipes) - 1


def _table_rows_keep_their_header_width(text: str) -> None:
    table: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            widths = {_cells(row) for row in table}
            assert len(widths) == 1, "\n".join(table)
        table = []


def _assert_inert(text: str, allowed_targets: set[str]) -> list[Token]:
    """No raw HTML, no link or image but the documents' own, no heading made from data."""
    tokens = _walk(_parser().parse(text))
    html = [t.content for t in tokens if t.type in {"html_inline", "html_block"}]
    assert html == []
    targets = {t.attrGet("href") for t in tokens if t.type == "link_open"}
    targets |= {t.attrGet("src") for t in tokens if t.type == "image"}
    assert targets <= allowed_targets, targets - allowed_targets
    headings = [_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert not [h for h in headings if "heading" in h or "Mallory" in h or "injected" in h], headings
    _table_rows_keep_their_header_width(text)
    return tokens


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("hostile_run")
    rows = [{"prompt": p, "answer": a} for p, a in zip(NEUTRAL_PROMPTS, NEUTRAL_ANSWERS, strict=True)]
    user = write_jsonl(root / "hostile.jsonl", rows)
    run = build_run(
        {
            "name": "ds-hostile",
            "prompts": {
                "seed": 3,
                "sources": [
                    {"kind": "harmbench", "n": 4},
                    {
                        "kind": "file",
                        "path": str(user),
                        "label": "benign",
                        "license": HOSTILE_LICENSE,
                        "source_name": HOSTILE_SOURCE,
                        "category": HOSTILE,
                        "columns": {"reference_answer": "answer"},
                    },
                ],
            },
            "datasheet": {"pretty_name": HOSTILE_NAME, "maintainer": HOSTILE_MAINTAINER, "contact": HOSTILE},
        },
        root / "run",
    )
    # a review round whose report carries a reviewer-chosen rejection reason
    curated = pl.read_parquet(run.run_dir / "curated.parquet")
    curated.with_columns(pl.lit("accepted").alias("review_status")).write_parquet(run.run_dir / "reviewed.parquet")
    report = {
        "records": curated.height,
        "reviewed": curated.height,
        "reasons": {HOSTILE_REASON: 1},
        "reviewers": {"alice": curated.height},
    }
    (run.run_dir / "review_report.json").write_text(json.dumps(report))
    return Run(run.config, run.run_dir, alttrain.run_datasheet(run.config, run.run_dir))


def _allowed(run: Run) -> set[str]:
    return {"DATASHEET.md"} | {f.path for f in run.result.figures if f.path}


def test_hostile_category_stays_one_cell_of_plain_text(hostile_run: Run) -> None:
    text = hostile_run.result.datasheet.read_text()
    assert not RAW_MARKUP.search(text)
    tokens = _assert_inert(text, _allowed(hostile_run))
    cells = [_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "td_open"]
    # each value renders back as itself (on one line), in a cell of its own
    for value in (HOSTILE, HOSTILE_SOURCE, HOSTILE_LICENSE, "reasons." + HOSTILE_REASON):
        assert one_line(value).strip() in cells, value
    category_row = next(line for line in text.splitlines() if line.startswith(f"| {md(HOSTILE)} |"))
    assert _cells(category_row) == 4  # category | harmful | benign | total


def test_hostile_maintainer_and_name_make_no_heading_list_or_html(hostile_run: Run) -> None:
    text = hostile_run.result.datasheet.read_text()
    tokens = _assert_inert(text, _allowed(hostile_run))
    depth, items = 0, []
    for token in tokens:
        depth += {"list_item_open": 1, "list_item_close": -1}.get(token.type, 0)
        if depth and token.type == "inline":
            items.append(token.content)
    assert items and not [item for item in items if "Mallory" in item or item.startswith("item")], items
    paragraphs = [_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "paragraph_open"]
    answers = [p for p in paragraphs if f"{one_line(HOSTILE_MAINTAINER).strip()}." in p]
    assert len(answers) == 2  # "The maintainer is ..." and the Maintenance answer, each as written
    title = next(_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open")
    assert title == f"Datasheet: {one_line(HOSTILE_NAME).strip()}"


def test_card_body_is_inert_and_its_yaml_still_loads(hostile_run: Run) -> None:
    card_path = hostile_run.result.card
    card = DatasetCard.load(card_path)  # offline: a local file
    front = yaml.safe_load(card.content.split("\n---\n")[0].removeprefix("---\n"))
    assert front["pretty_name"] == card.data.pretty_name == md(HOSTILE_NAME)
    assert "\n" not in card.data.pretty_name and "<script>" not in card.data.pretty_name
    assert card.data.license == ["mit", "unknown"]
    assert "safety" in card.data.tags
    assert not RAW_MARKUP.search(card.text)
    _assert_inert(card.text, _allowed(hostile_run))
    tokens = _walk(_parser().parse(card.text))
    cells = [_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "td_open"]
    assert one_line(HOSTILE_SOURCE).strip() in cells and one_line(HOSTILE_LICENSE).strip() in cells


def test_code_spans_and_fences_hold_any_backticks() -> None:
    parser = _parser()
    for value in ("plain", "a`b", "``x``", "`", " spaced ", "pipe|in"):
        tokens = _walk(parser.parse(f"teacher {code(value)} end"))
        assert [t.content for t in tokens if t.type == "code_inline"] == [value]
    block = "line one\n```\n<script>x</script>\n````"
    tokens = parser.parse(f"{fenced(block, 'text')}\n\nafter\n")
    assert tokens[0].type == "fence" and tokens[0].content == block + "\n"
    assert [t.type for t in tokens][1:] == ["paragraph_open", "inline", "paragraph_close"]


def test_md_escapes_render_as_the_value_itself() -> None:
    parser = _parser()
    for value in (
        "- item",
        "1. first",
        "---",
        "===",
        "# h",
        "> quote",
        "*em* _em_ ~~del~~",
        "&amp; &lt;b&gt;",
        "back\\slash\\",
        "-0.5",
        "snake_case_name",
        "![img](http://x.example/i.png)",
    ):
        tokens = parser.parse(f"{md(value)}\n")
        assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"], value
        assert _text(tokens[1]) == value and len(tokens[1].children or []) == 1, value
    assert md("snake_case_name") == "snake_case_name" and md("-0.5") == "-0.5"  # ordinary values stay readable


def test_written_documents_have_no_data_markup(hostile_run: Run) -> None:
    for document in (hostile_run.result.datasheet, hostile_run.result.card):
        raw = document.read_text()
        assert not RAW_MARKUP.search(raw), (document.name, RAW_MARKUP.search(raw))
        assert not re.search(r"^(#+ heading|- item|#+ Mallory|#+ injected)", raw, re.MULTILINE), document.name
