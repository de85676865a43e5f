"""Teacher throughput: the synthesis engine vs a bare AsyncOpenAI loop, side by side in one run.

All talk to the fault-free fault server (in its own process) with a fixed latency, at each in-flight
level, sending N = multiple x in-flight requests. Ideal throughput is in-flight / latency. Two bare
loops run beside the engine: ``sdk default`` (``chat.completions.create`` on the SDK's default httpx
transport, what most code does) and ``raw`` (the same transport and call the engine's backend uses:
aiohttp + ``post``), so ``engine_vs_raw`` is the engine's own overhead (parse, validate, cache,
bookkeeping). Also prints the cache's cost per row. The last three lines are the ratios at the
largest in-flight level.

Ideal throughput describes the steady state, so each run lasts ``multiple`` latency cycles (default
32): every run also pays a fixed start (opening the in-flight connections and a first burst of
replies that all arrive at once: ~0.3 s at 256 in flight here) and a tail, which in a 4-cycle run
(2 s) cost a sixth of the time and decided the ratios more than the steady state did. This VM's
timers also oversleep a 0.5 s wait by 1-5 ms, so even one request alone reaches ~0.99 of ideal.

    .venv/bin/python bench/teacher_throughput.py [--latency 0.5] [--multiple 32] [--levels 64 256]
        [--curator-python /tmp/curator/bin/python]

With ``--curator-python``, bespokelabs-curator runs as a fourth contender in its own environment
(it cannot share alttrain's; see ``bench/curator_contender.py``), against the same server.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import openai
import polars as pl
from contenders import run_contender

from alttrain.llm.backends.openai_backend import response_format
from alttrain.llm.cache import ResponseCache, keyed_request
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import TeacherRequest, TeacherResponse
from alttrain.policy import load_policy
from alttrain.records import conform
from alttrain.structure import StructureSpec
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.engine import synthesize_cached
from alttrain.synthesis.messages import TraceMessages
from alttrain.synthesis.trace_json import parse_trace_json, trace_schema
from alttrain.testing import FaultPlan, FaultServerProcess

BENIGN = load_policy().resolve(None, "benign")  # every stand-in prompt is benign: the policy's benign section

def neutral_prompts(count: int, tag: str) -> pl.DataFrame:
    """``count`` distinct benign stand-in prompts (distinct per ``tag``, so no run hits another's cache)."""
    rows = [
        {"id": f"{tag}-{i}", "prompt": f"[{tag}] What is {i} plus {i + 1}?", "label": "benign",
         "category": "bench", "source": "bench", "license": "none"}
        for i in range(count)
    ]
    return conform(pl.DataFrame(rows), "prompts")


async def raw_loop(base_url: str, in_flight: int, prompts: pl.DataFrame, *, sdk_default: bool) -> float:
    """Send one structured request per prompt with a bare AsyncOpenAI; return requests per second."""
    messages = TraceMessages(StructureSpec(), structured=True)
    limits = type(openai.DEFAULT_CONNECTION_LIMITS)(max_connections=in_flight, max_keepalive_connections=in_flight)
    transport = openai.DefaultAsyncHttpxClient if sdk_default else openai.DefaultAioHttpClient
    client = openai.AsyncOpenAI(
        base_url=base_url, api_key="bench", max_retries=0, http_client=transport(limits=limits, timeout=60)
    )
    slots = asyncio.Semaphore(in_flight)
    fmt = response_format(trace_schema())

    async def one(record: dict) -> None:
        body = {"model": "bench", "messages": messages.initial(record, "generate", BENIGN), "response_format": fmt,
                "temperature": 0.7, "top_p": 0.95, "max_tokens": 1024, "seed": 0}
        async with slots:
            if sdk_default:
                completion = await client.chat.completions.create(**body)  # type: ignore[call-overload]
                content = completion.choices[0].message.content
            else:
                data = await client.post("/chat/completions", body=body, cast_to=dict)
                content = data["choices"][0]["message"]["content"]
        parse_trace_json(content or "")

    started = time.perf_counter()
    await asyncio.gather(*(one(record) for record in prompts.to_dicts()))
    elapsed = time.perf_counter() - started
    await client.close()
    return prompts.height / elapsed


def engine_run(base_url: str, in_flight: int, prompts: pl.DataFrame, cache_dir: Path) -> float:
    """Synthesize every prompt with the engine (fresh cache); return rows per second."""
    teacher = TeacherConfig(backend="openai", model="bench", base_url=base_url, concurrency=in_flight, timeout_s=60)
    config = SynthesisConfig(teacher=teacher)
    cache_path = cache_dir / f"cache-{prompts['id'][0]}.sqlite"
    outcome = asyncio.run(synthesize_cached(prompts, config, StructureSpec(), cache_path))
    ok = outcome.frame.filter(pl.col("status") == "ok").height
    if ok != prompts.height or outcome.stats.sent != prompts.height:
        raise RuntimeError(f"engine run not clean: {ok} ok of {prompts.height}, {outcome.stats.sent} sent")
    return prompts.height / outcome.elapsed_s


def cache_cost(cache_dir: Path, rows: int = 2000) -> tuple[float, float]:
    """Microseconds per row to key + write a response, and to key + read it back."""
    messages = TraceMessages(StructureSpec(), structured=True)
    sampling = TeacherConfig().sampling.to_params()
    requests = [
        TeacherRequest(messages.initial(record, "generate", BENIGN), sampling, json_schema=trace_schema())
        for record in neutral_prompts(rows, "cache").to_dicts()
    ]
    response = TeacherResponse(text="x" * 1200, prompt_tokens=300, completion_tokens=300, finish_reason="stop")
    with ResponseCache(cache_dir / "cost.sqlite") as cache:
        started = time.perf_counter()
        for request in requests:
            key, request_json = keyed_request("openai:bench", request)
            cache.put(key, "openai:bench", request_json, response)
        write_us = (time.perf_counter() - started) / rows * 1e6
        started = time.perf_counter()
        for request in requests:
            cache.get(keyed_request("openai:bench", request)[0])
        read_us = (time.perf_counter() - started) / rows * 1e6
    return write_us, read_us


def curator_run(python: str, base_url: str, in_flight: int, prompts: pl.DataFrame) -> float:
    """Run bench/curator_contender.py with curator's own Python; return its requests per second."""
    rows = prompts.select("id", "prompt").to_dicts()
    result = run_contender(python, "curator_contender.py", base_url, in_flight, rows)
    if result["rows"] != len(rows):
        raise RuntimeError(f"curator answered {result['rows']} of {len(rows)} requests")
    return result["rows"] / result["seconds"]


def measure(
    base_url: str, in_flight: int, count: int, round_: int, cache_dir: Path, curator_python: str | None
) -> dict[str, float]:
    """One round of the contenders at one in-flight level, each on fresh prompts: req/s by name."""
    def prompts(name: str) -> pl.DataFrame:
        return neutral_prompts(count, f"{name}{in_flight}-{round_}")

    rates = {
        "sdk default": asyncio.run(raw_loop(base_url, in_flight, prompts("sdk"), sdk_default=True)),
        "raw": asyncio.run(raw_loop(base_url, in_flight, prompts("raw"), sdk_default=False)),
        "engine": engine_run(base_url, in_flight, prompts("eng"), cache_dir),
    }
    if curator_python:
        rates["curator"] = curator_run(curator_python, base_url, in_flight, prompts("cur"))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--multiple", type=int, default=32, help="requests per run = multiple x in-flight")
    parser.add_argument("--levels", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--curator-python", help="a Python with bespokelabs-curator installed (optional contender)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best of each is kept")
    args = parser.parse_args()
    ratios: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, FaultServerProcess(FaultPlan(latency_s=args.latency)) as server:
        cache_dir = Path(tmp)
        write_us, read_us = cache_cost(cache_dir)
        print(f"cache overhead per row: key+write {write_us:.0f} us, key+read {read_us:.0f} us")
        for in_flight in args.levels:
            count = args.multiple * in_flight
            ideal = in_flight / args.latency
            rounds = [
                measure(server.base_url, in_flight, count, round_, cache_dir, args.curator_python)
                for round_ in range(args.rounds)
            ]
            best = {name: max(result[name] for result in rounds) for name in rounds[0]}
            print(
                f"in-flight {in_flight:4d}, {count} requests, latency {args.latency} s, best of {args.rounds}: "
                f"ideal {ideal:.0f} req/s, " + ", ".join(f"{name} {rate:.0f} req/s" for name, rate in best.items())
                + f" (engine vs sdk default {best['engine'] / best['sdk default']:.2f}"
                + (f", engine vs curator {best['engine'] / best['curator']:.2f})" if "curator" in best else ")")
            )
            ratios = {
                "engine_vs_ideal": best["engine"] / ideal,
                "raw_vs_ideal": best["raw"] / ideal,
                "engine_vs_raw": best["engine"] / best["raw"],
            }
        stats = server.stats()
        print(f"server: {stats.completions} completions, peak {stats.max_in_flight} in flight")
    for name, value in ratios.items():
        print(f"{name}: {value:.3f}")


if __name__ == "__main__":
    main()
