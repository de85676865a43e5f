"""The NLL helper on the embedded SmolLM2: finite, and lower for the model's own greedy text than for it shuffled."""

import asyncio
import math
import random
from pathlib import Path

from alttrain.llm.client import TeacherClient
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import SamplingParams, TeacherRequest
from alttrain.models.nll import NllScorer

PROMPTS = ["What is the capital of France?", "Name three colours of the rainbow."]


def greedy(model: Path, prompt: str) -> str:
    teacher = TeacherConfig(backend="transformers", model=str(model), transformers={"precision": "fp32"})

    async def run() -> str:
        async with TeacherClient(teacher, None) as client:
            request = TeacherRequest([{"role": "user", "content": prompt}], SamplingParams(0.0, 1.0, 24, 0))
            return (await client.complete(request)).text

    return asyncio.run(run())


def shuffled(text: str) -> str:
    words = text.split()
    random.Random(0).shuffle(words)
    return " ".join(words)


def test_the_model_s_own_text_is_likelier_than_the_same_words_shuffled(smollm2_path: Path, tmp_path: Path) -> None:
    own = [(prompt, greedy(smollm2_path, prompt)) for prompt in PROMPTS]
    scorer = NllScorer(str(smollm2_path), cache_dir=tmp_path)
    mine = scorer.score(own, batch_size=2)
    other = scorer.score([(prompt, shuffled(text)) for prompt, text in own], batch_size=1)
    assert math.isfinite(mine.mean) and math.isfinite(other.mean)
    assert mine.rows == 2 and mine.tokens > 10 and mine.truncated == 0
    assert mine.mean < other.mean - 1.0  # nats per token
    assert scorer.score([]).tokens == 0 and math.isnan(scorer.score([]).mean)


def test_batching_does_not_change_the_mean(smollm2_path: Path, tmp_path: Path) -> None:
    pairs = [(prompt, "Paris is the capital, and red, green and blue are colours.") for prompt in PROMPTS]
    scorer = NllScorer(str(smollm2_path), cache_dir=tmp_path, max_length=40)
    one, two = scorer.score(pairs, batch_size=1), scorer.score(pairs, batch_size=2)
    assert one.tokens == two.tokens and abs(one.mean - two.mean) < 1e-4
