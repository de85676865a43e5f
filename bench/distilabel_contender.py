"""distilabel as a contender in the teacher benches, run by distilabel's own Python.

distilabel 1.5 wants ``openai`` 1.x through its ``openai`` extra and its own ``datasets``/``pydantic``
ranges, so it lives in its own virtual environment and this script runs there, alone, against the
bench's fault server: a pipeline of ``LoadDataFromDicts`` then ``TextGeneration`` on ``OpenAILLM``
(one plain chat request per prompt; batches of ``--in-flight`` sent at once), with distilabel's own
retry settings (the SDK's, ``max_retries=6``) and no cache. A row counts as answered when its
``generation`` is not empty. It prints the line :mod:`contenders` describes.

    python -m venv /tmp/distilabel && /tmp/distilabel/bin/pip install "distilabel[openai]==1.5.3" requests
    /tmp/distilabel/bin/python bench/distilabel_contender.py --base-url URL --in-flight 64 --prompts prompts.json
"""

from __future__ import annotations

import os
import tempfile
import time

from contenders import contender_arguments, report


def main() -> None:
    """Send the prompts through a distilabel pipeline and print what it answered."""
    arguments, rows = contender_arguments(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as cache_dir:
        os.environ["DISTILABEL_CACHE_DIR"] = cache_dir
        os.environ["HF_HUB_OFFLINE"] = "1"
        from distilabel.models import OpenAILLM
        from distilabel.pipeline import Pipeline
        from distilabel.steps import LoadDataFromDicts
        from distilabel.steps.tasks import TextGeneration

        with Pipeline(name="bench-faults", cache_dir=cache_dir) as pipeline:
            load = LoadDataFromDicts(data=[{"instruction": row["prompt"]} for row in rows], batch_size=len(rows))
            generate = TextGeneration(
                llm=OpenAILLM(model="bench", base_url=arguments.base_url, api_key="bench",
                              generation_kwargs={"temperature": 0.7, "top_p": 0.95, "max_new_tokens": 1024}),
                input_batch_size=arguments.in_flight,
            )
            load >> generate
        started = time.perf_counter()
        distiset = pipeline.run(use_cache=False)
        seconds = time.perf_counter() - started
        answered = sum(bool(row.get("generation")) for row in distiset["default"]["train"]) if distiset else 0
    report(answered, seconds)


if __name__ == "__main__":
    main()
