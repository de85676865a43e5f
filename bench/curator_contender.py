"""bespokelabs-curator as a contender in the teacher benches, run by curator's own Python.

curator cannot share alttrain's environment (through litellm==1.83.7 it pins openai==2.30.0, and it
pins pandas==2.2.2 and rich<14), so it lives in its own virtual environment and this script runs
there, alone, against the bench's fault server: one plain chat request per prompt, at most
``--in-flight`` at a time (curator's ``max_concurrent_requests``), rate limits set out of the way,
its retries as curator sets them by default. It prints the line :mod:`contenders` describes.

    python -m venv /tmp/curator && /tmp/curator/bin/pip install bespokelabs-curator
    /tmp/curator/bin/python bench/curator_contender.py --base-url URL --in-flight 64 --prompts prompts.json

Offline, curator's OpenAI backend needs tiktoken's ``cl100k_base`` file, which litellm ships: this script
points ``TIKTOKEN_CACHE_DIR`` at it. Telemetry is switched off and the cache goes to a fresh folder.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from contenders import contender_arguments, report


def prepare_environment(cache_dir: str) -> None:
    """Offline tokenizer file, no telemetry, a fresh cache, no live display."""
    import litellm

    tokenizers = Path(litellm.__file__).parent / "litellm_core_utils" / "tokenizers"
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(tokenizers))
    os.environ["TELEMETRY_ENABLED"] = "false"
    os.environ["CURATOR_CACHE_DIR"] = cache_dir
    os.environ["CURATOR_DISABLE_RICH_DISPLAY"] = "1"


def main() -> None:
    """Send the prompts through curator and print what it answered."""
    arguments, rows = contender_arguments(__doc__.splitlines()[0])
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
                "request_timeout": 60,
            },
        )
        started = time.perf_counter()
        result = ask(rows)
        seconds = time.perf_counter() - started
    report(len(result.dataset) if hasattr(result, "dataset") else len(result), seconds)


if __name__ == "__main__":
    main()
