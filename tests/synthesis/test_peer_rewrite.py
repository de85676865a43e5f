"""Peer traces through rewrite mode: STAR-1 and SafeChain files load, split at the think tags, and go to the
(fault-injecting) teacher as rewrites of their reasoning, never as the whole response."""

import json
from pathlib import Path

import polars as pl

from alttrain.config import parse_config
from alttrain.measures import TokenizerConfig, make_counter, with_length_reduction
from alttrain.records import STATUS_OK, read_stage, write_stage
from alttrain.sources.pool import build_prompt_pool
from alttrain.synthesis.stage import run_synthesis
from alttrain.testing import FaultPlan, FaultServer, teacher_config
from tests.sources.peer_fixtures import SAFECHAIN_JSONL, STAR1_JSON


def test_peer_traces_are_rewritten_not_mangled(tmp_path: Path) -> None:
    (tmp_path / "STAR-1.json").write_text(STAR1_JSON)
    (tmp_path / "safechain.jsonl").write_text(SAFECHAIN_JSONL)
    sources = [{"kind": "file", "path": str(tmp_path / "STAR-1.json"), "preset": "star1"},
               {"kind": "file", "path": str(tmp_path / "safechain.jsonl"), "preset": "safechain"}]  # fmt: skip
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with FaultServer(FaultPlan(record_requests=True)) as server:
        config = parse_config({"name": "peer", "prompts": {"sources": sources},
                               "synthesis": {"teacher": teacher_config(server.base_url).model_dump(mode="json")}})
        pool, _ = build_prompt_pool(config.prompts)
        write_stage(pool, run_dir / "prompts.parquet", "prompts")
        run_synthesis(config, run_dir)
        requests = [json.dumps(request.body) for request in server.recorded()]
    rows = read_stage(run_dir / "synthesized.parquet", "synthesized").sort("id")
    assert rows.height == pool.height == 5
    traced = pl.col("original_reasoning").is_not_null()
    assert set(rows.filter(traced)["mode"]) == {"rewrite"} and rows.filter(traced).height == 4
    assert rows.filter(~traced)["mode"].to_list() == ["generate"]  # the SafeChain row without think tags
    for reasoning in rows.filter(traced)["original_reasoning"]:
        assert sum(json.dumps(reasoning)[1:-1] in request for request in requests) >= 1  # sent as the trace
    assert not any("</think>" in request or "<think>" in request for request in requests)  # tags stripped
    assert rows.filter(pl.col("status") != STATUS_OK)["reason"].null_count() == 0  # every failure has a reason
    measured = with_length_reduction(rows.filter(pl.col("status") == STATUS_OK), make_counter(TokenizerConfig()))
    rewritten = measured.filter(pl.col("mode") == "rewrite")
    assert rewritten["original_tokens"].null_count() == 0 and (rewritten["original_tokens"] > 0).all()
    assert rewritten["length_reduction"].null_count() == 0
