"""The prompts stage's per-source counts: rows read, labels found, and how responses split."""

import json
from pathlib import Path

import polars as pl
from rich.console import Console

from alttrain.config import parse_config
from alttrain.sources.pool import PromptsConfig, SourceCount, build_prompt_pool
from alttrain.sources.stage import PromptsResult, labels_found, run_prompts, show_prompts
from tests.sources.peer_fixtures import LRM_JSON, STAR1_JSON, write
from tests.sources.test_hub import hub_folder, safechain_records


def test_counts_per_source_add_up(tmp_path: Path) -> None:
    star = write(tmp_path / "STAR-1.json", STAR1_JSON)
    lrm = write(tmp_path / "sft_train_nocot.json", LRM_JSON)
    unclosed = write(
        tmp_path / "mine.jsonl",
        '{"prompt": "Name a prime", "label": "benign", "response": "<think>2 is prime"}\n'
        '{"prompt": "Name a colour", "label": "benign", "response": "Blue."}\n',
    )
    folder = hub_folder(tmp_path / "SafeChain", safechain_records())
    config = PromptsConfig.model_validate(
        {
            "sources": [
                {"kind": "file", "path": str(star), "preset": "star1"},
                {"kind": "file", "path": str(lrm), "preset": "lrm_safety_study", "n": 2},
                {"kind": "file", "path": str(unclosed), "columns": {"response": "response"}},
                {"kind": "hub", "dataset": str(folder), "preset": "safechain", "cache_dir": str(tmp_path / "cache")},
                {"kind": "harmbench", "n": 3},
            ]
        }
    )
    pool, summary = build_prompt_pool(config)
    by_name = {s.source: s for s in summary}
    assert list(by_name) == ["star1", "lrm_safety_study", "mine.jsonl", "safechain", "harmbench"]
    traces = {name: s.traces for name, s in by_name.items()}
    assert traces["harmbench"] is None
    assert [
        (t.rows, t.split, t.empty_think, t.no_tags, t.unclosed, t.empty)
        for t in (traces["star1"], traces["lrm_safety_study"], traces["mine.jsonl"], traces["safechain"])
    ] == [(2, 2, 0, 0, 0, 0), (2, 1, 0, 0, 0, 1), (2, 0, 0, 1, 1, 0), (3, 2, 0, 1, 0, 0)]  # lrm: its n: 2, as read
    for t in traces.values():
        if t is not None:
            assert t.split + t.empty_think + t.no_tags + t.unclosed + t.empty == t.rows
    assert by_name["lrm_safety_study"].loaded == 3 and by_name["lrm_safety_study"].sampled == 2
    assert by_name["harmbench"].labels_found == ((None, "harmful", 200),)
    assert labels_found(by_name["star1"]) == "harmful 2 (fixed)"
    assert labels_found(by_name["mine.jsonl"]) == "benign 2"
    assert labels_found(by_name["safechain"]) == (
        "adversarial_benign→benign 1, adversarial_harmful→harmful 1, vanilla_benign→benign 1"
    )
    assert sum(s.kept for s in summary) == pool.height

    console = Console(record=True, width=250)
    show_prompts(console, PromptsResult(path=tmp_path / "prompts.parquet", rows=pool.height, sources=summary), None)
    text = console.export_text()
    assert "labels found" in text and "safety→harmful 2, math→benign 1" not in text
    assert "math→benign 1, safety→harmful 1" in text  # lrm: the 2 rows its n sampled as the file was read
    assert "original traces" in text
    header = next(line for line in text.splitlines() if "empty think" in line)
    cells = [cell.strip() for cell in header.split("┃")[1:-1]]
    assert cells == ["source", "rows", "split", "empty think", "no tags", "unclosed", "empty"]
    star_line = next(line for line in text.splitlines() if line.startswith("│ star1") and "Apache" not in line)
    assert [cell.strip() for cell in star_line.split("│")[2:-1]] == ["2", "2", "0", "0", "0", "0"]


def test_source_count_defaults_keep_old_callers() -> None:
    count = SourceCount("s", "MIT", 1, 1, 0, 1, 1, 0)
    assert count.traces is None and count.labels_found == ()


def test_labels_that_contradict_the_answers_are_warned(tmp_path: Path) -> None:
    # a harmful-prompt source whose label column says 0 for every jailbreak prompt, mapped 0 -> benign
    refusal = "<think>\\nThe request is unsafe.\\n</think>\\n\\nI'm sorry, I can't help with that."
    lines = [f'{{"prompt": "Stand-in request [redacted] {i}", "flag": 0, "response": "{refusal}"}}' for i in range(8)]
    sums = [f'{{"prompt": "What is {i} plus {i}?", "flag": 0, "response": "It is {2 * i}."}}' for i in range(6)]
    path = write(tmp_path / "jailbreaks.jsonl", "\n".join(lines + sums[:2]) + "\n")
    answers = write(tmp_path / "helpful.jsonl", "\n".join(sums) + "\n")
    mapping = {"columns": {"label": "flag", "response": "response"}, "label_values": {"0": "benign"}}
    sources = [{"kind": "file", "path": str(file), **mapping} for file in (path, answers)]
    pool, summary = build_prompt_pool(PromptsConfig.model_validate({"sources": sources}))
    assert [(s.benign_answered, s.benign_refusing) for s in summary] == [(10, 8), (6, 0)]
    assert summary[1].label_warning() is None
    console = Console(record=True, width=80)
    show_prompts(console, PromptsResult(path=tmp_path / "prompts.parquet", rows=pool.height, sources=summary), None)
    warnings = [line for line in console.export_text().splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: source jailbreaks.jsonl: 8 of 10 rows labelled benign have an original answer that refuses; "
        "check its label mapping (label, label_values) before synthesis"
    ]


ZH_PROMPTS = ["篮子里有十个苹果，吃掉三个还剩几个？", "请用“春天”造一个句子。", "把下面的话翻译成英文：你好，世界！🌏"]


def test_chinese_prompts_round_trip_intact_from_every_kind_of_source(tmp_path: Path) -> None:
    rows = [{"prompt": text, "label": "benign", "category": "中文"} for text in ZH_PROMPTS]
    raw = write(tmp_path / "raw.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    escaped = write(tmp_path / "escaped.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")  # \\uXXXX form
    (tmp_path / "excel.csv").write_bytes(pl.DataFrame(rows).write_csv().encode("utf-8-sig"))  # with a BOM
    pl.DataFrame(rows).write_parquet(tmp_path / "p.parquet")
    folder = hub_folder(tmp_path / "zh-hub", rows)
    files = [raw, escaped, tmp_path / "excel.csv", tmp_path / "p.parquet"]
    mapping = {"columns": {"category": "category"}}
    sources = [{"kind": "file", "path": str(path), **mapping} for path in files]
    sources.append({"kind": "hub", "dataset": str(folder), "cache_dir": str(tmp_path / "cache"), **mapping})
    for index, source in enumerate(sources):
        config = parse_config({"name": "zh", "prompts": {"sources": [source]}})
        written = pl.read_parquet(run_prompts(config, tmp_path / f"run{index}").path)
        assert written["prompt"].to_list() == ZH_PROMPTS, source
        assert set(written["category"]) == {"中文"}, source
