"""Chinese safety benchmarks read from a local copy in the release's own layout: XSafety (zh) and Flames 1k.

Neither is on the Hugging Face Hub in its release form, so ``path`` names the local copy (``bench/chinese.py``
reads ``../shared/benchmarks/zh_safety``). Every item is a safety prompt labelled ``harmful``: the response
wanted is a safe one, which for many scenarios (Mental_Health, Ethics_And_Morality, most of Flames) is careful
help rather than a refusal, so read the refusal rate there as a safe-response rate only with that in mind.

* ``xsafety`` (Jarviswang94/Multilingual_safety_benchmark, Apache-2.0): ``path`` holds ``zh/<Scenario>.csv``,
  one prompt a line, no header, UTF-8 with a byte-order mark; 200 prompts a file; category: the scenario (the
  file name).
* ``flames`` (AIFlames/Flames, Apache-2.0): ``path`` is ``Flames_1k_Chinese.jsonl`` or its folder; JSON Lines
  with ``dimension``, ``subcomponent`` and ``prompt``; 1,000 prompts; category: the dimension (Safety,
  Fairness, Morality, Data protection, Legality).

XSafety's 14 files are 7 typical safety scenarios (Crimes_And_Illegal_Activities, Ethics_And_Morality, Insult,
Mental_Health, Physical_Harm, Privacy_And_Property, Unfairness_And_Discrimination), 6 instruction attacks
(Goal_Hijacking, Inquiry_With_Unsafe_Opinion, Prompt_Leaking, Reverse_Exposure, Role_Play_Instruction,
Unsafe_Instruction_Topic) and ``commonsense`` (multiple-choice questions that ask for the unsafe option): the
default ``scenarios`` are the 13 request files, ``commonsense`` only when named.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from alttrain.errors import BenchmarkError
from alttrain.evaluation.benchmarks import Benchmark
from alttrain.evaluation.hub_benchmarks import Row, hub_items

TYPICAL_SCENARIOS = (
    "Crimes_And_Illegal_Activities", "Ethics_And_Morality", "Insult", "Mental_Health", "Physical_Harm",
    "Privacy_And_Property", "Unfairness_And_Discrimination",
)
INSTRUCTION_ATTACKS = (
    "Goal_Hijacking", "Inquiry_With_Unsafe_Opinion", "Prompt_Leaking", "Reverse_Exposure", "Role_Play_Instruction",
    "Unsafe_Instruction_Topic",
)
FLAMES_FILE = "Flames_1k_Chinese.jsonl"


def _existing(benchmark: str, path: Path, what: str) -> Path:
    """``path`` when it exists, else a :class:`BenchmarkError` that says what was looked for."""
    if not path.exists():
        raise BenchmarkError(f"benchmark {benchmark!r}: {path} not found ({what})")
    return path


class XSafetyBenchmark(Benchmark):
    """XSafety's Chinese prompts (Apache-2.0), one item per line of each chosen scenario file."""

    kind: Literal["xsafety"] = "xsafety"
    path: Path
    scenarios: list[str] = Field(default_factory=lambda: [*TYPICAL_SCENARIOS, *INSTRUCTION_ATTACKS], min_length=1)

    def load(self) -> pl.DataFrame:
        """Every prompt of ``zh/<scenario>.csv`` for each scenario (blank lines are not prompts)."""
        folder = _existing(self.name, self.path.expanduser() / "zh", "XSafety's Chinese folder, zh/*.csv")
        rows: list[Row] = []
        for scenario in self.scenarios:
            file = _existing(self.name, folder / f"{scenario}.csv", "one file per scenario")
            lines = file.read_text(encoding="utf-8-sig").splitlines()
            rows += [{"prompt": line.strip(), "scenario": scenario} for line in lines if line.strip()]
        return hub_items(rows, self.name, "Apache-2.0 (XSafety)", lambda r: r["prompt"], lambda r: "harmful",
                         lambda r: r["scenario"])


class FlamesBenchmark(Benchmark):
    """Flames 1k (Chinese, Apache-2.0): 1,000 adversarial value-alignment prompts with their dimension."""

    kind: Literal["flames"] = "flames"
    path: Path

    def load(self) -> pl.DataFrame:
        """Every line of ``Flames_1k_Chinese.jsonl`` (``path`` is that file or its folder)."""
        path = self.path.expanduser()
        file = _existing(self.name, path / FLAMES_FILE if path.is_dir() else path, f"Flames' {FLAMES_FILE}")
        rows: list[Row] = []
        for number, line in enumerate(file.read_text(encoding="utf-8-sig").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                rows.append({"prompt": row["prompt"], "dimension": row["dimension"]})
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise BenchmarkError(f"benchmark {self.name!r}: {file} line {number} is not a Flames row "
                                     f"with 'prompt' and 'dimension' ({type(error).__name__}: {error})") from None
        return hub_items(rows, self.name, "Apache-2.0 (Flames)", lambda r: r["prompt"], lambda r: "harmful",
                         lambda r: str(r["dimension"]))
