import json
from pathlib import Path

from alttrain.sources.pool import PromptsConfig, build_prompt_pool


def test_pool_samples_each_source_deterministically() -> None:
    config = PromptsConfig.model_validate({"seed": 7, "sources": [
        {"kind": "harmbench", "n": 10}, {"kind": "advbench", "n": 15},
        {"kind": "reasoning_gym", "size": 12},
    ]})
    pool, summary = build_prompt_pool(config)
    assert pool.height == 37
    assert [(s.source, s.kept) for s in summary] == [("harmbench", 10), ("advbench", 15),
                                                     ("reasoning_gym/gsm_symbolic", 12)]
    again, _ = build_prompt_pool(config)
    assert again["id"].to_list() == pool["id"].to_list()
    assert pool["id"].n_unique() == pool.height


def test_exact_duplicates_merge_across_sources(tmp_path: Path) -> None:
    harmbench, _ = build_prompt_pool(PromptsConfig.model_validate({"sources": [{"kind": "harmbench"}]}))
    copied = harmbench["prompt"][:3].to_list()
    user = tmp_path / "user.jsonl"
    rows = [{"prompt": p.upper() + "  "} for p in copied] + [{"prompt": "A new neutral question?"}] * 2
    user.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = PromptsConfig.model_validate({"sources": [
        {"kind": "harmbench"}, {"kind": "file", "path": str(user), "label": "harmful"},
    ]})
    pool, summary = build_prompt_pool(config)
    assert pool.height == 201
    file_count = summary[1]
    assert (file_count.sampled, file_count.duplicates_merged, file_count.kept) == (5, 4, 1)
    assert sum(s.kept for s in summary) == pool.height
    assert all(s.sampled - s.duplicates_merged == s.kept for s in summary)
