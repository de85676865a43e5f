"""bespokelabs-curator as a contender in bench/teacher_throughput.py, run by curator's own Python.

curator cannot share alttrain's environment (through litellm==1.83.7 it pins openai==2.30.0, and it
pins pandas==2.2.2 and rich<14), so it lives in its own virtual environment and this script runs
there, alone, against the bench's fault server: one plain chat request per neutral prompt, at most
``--in-flight`` at a time (curator's ``max_concurrent_requests``), rate limits set out of the way. It
prints one JSON line: ``{"requests": N, "seconds": S, "rate": N / S}``.

    python -m venv /tmp/curator && /tmp/curator/bin/pip install bespokelabs-curator
    /tmp/curator/bin/python bench/curator_contender.py --base-url URL --in-flight 64 --count 2048 --tag c64

Offline, curator's OpenAI backend needs tiktoken's ``cl100k_base`` file, which litellm ships: this script
points ``TIKTOKEN_CACHE_DIR`` at it. Telemetry is switched off and the cache goes to a fresh folder.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def prepare_environment(cache_dir: str) -> None:
    """Offline tokenizer file, no telemetry, a fresh cache, no live display."""
    import litellm

    tokenizers = Path(litellm.__file__).parent / "litellm_core_utils" / "tokenizers"
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(tokenizers))
    os.environ["TELEMETRY_ENABLED"] = "false"
    os.environ["CURATOR_CACHE_DIR"] = cache_dir
    os.environ["CURATOR_DISABLE_RICH_DISPLAY"] = "1"


def main() -> None:
    """Send the prompts through curator and print the rate."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--in-flight", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--tag", required=True)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache_dir:
        prepare_environment(cache_dir)
        from bespokelabs import curator

        class Ask(curator.LLM):
            def prompt(self, row: dict) -> str:
                return row["prompt"]

            def parse(self, row: dict, response: str) -> dict:
                return {"id": row["id"], "text": response}

        ask = Ask(
            model_name="bench",
            backend="openai",
            generation_params={"temperature": 0.7, "top_p": 0.95, "max_tokens": 1024, "seed": 0},
            backend_params={
                "base_url": arguments.base_url,
                "api_key": "bench",
                "max_concurrent_requests": arguments.in_flight,
                "max_requests_per_minute": 10_000_000,
                "max_tokens_per_minute": 10_000_000_000,
                "max_retries": 0,
                "request_timeout": 60,
            },
        )
        rows = [
            {"id": f"{arguments.tag}-{i}", "prompt": f"[{arguments.tag}] What is {i} plus {i + 1}?"}
            for i in range(arguments.count)
        ]
        started = time.perf_counter()
        result = ask(rows)
        seconds = time.perf_counter() - started
    answered = len(result.dataset) if hasattr(result, "dataset") else len(result)
    print(json.dumps({"requests": answered, "seconds": seconds, "rate": answered / seconds}))


if __name__ == "__main__":
    main()
