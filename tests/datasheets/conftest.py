"""Session fixtures: the small real runs that the datasheet tests document (see ``runs.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alttrain.testing import FaultServer

from .runs import NEUTRAL_ANSWERS, NEUTRAL_PROMPTS, SECRET, SECRET_ENV, Run, build_run, write_jsonl


@pytest.fixture(scope="session")
def template_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Four offline sources plus a user file, the template teacher, prices configured."""
    root = tmp_path_factory.mktemp("template_run")
    # the template teacher answers a benign prompt only from a reference answer: the last one is quarantined
    rows = [{"prompt": p, "answer": a} for p, a in zip(NEUTRAL_PROMPTS, NEUTRAL_ANSWERS, strict=True)]
    user = write_jsonl(root / "neutral.jsonl", rows)
    return build_run({
        "name": "ds-template",
        "prompts": {"seed": 3, "sources": [
            {"kind": "harmbench", "n": 6}, {"kind": "donotanswer", "n": 4}, {"kind": "advbench", "n": 4},
            {"kind": "reasoning_gym", "size": 10, "seed": 1},
            {"kind": "file", "path": str(user), "label": "benign", "license": "CC-BY-4.0 (neutral stand-ins)",
             "source_name": "neutral", "category": "everyday", "columns": {"reference_answer": "answer"}},
        ]},
        # full harmful traces (the default is brief), so that the reasoning bound below drops only a few
        "synthesis": {"teacher": {"template": {"brief": False, "checklist_items": {"harmful": 3, "benign": 3}}}},
        "curation": {"selection": {"n": 16}, "filters": [  # the defaults, with a lower bound that drops a few
            {"kind": "structure"}, {"kind": "verdict"}, {"kind": "refusal"}, {"kind": "answer"},
            {"kind": "length", "min": {"reasoning": 45}}, {"kind": "reduction"}, {"kind": "language"}]},
        "datasheet": {"price_per_million_input_tokens": 0.5, "price_per_million_output_tokens": 1.5},
    }, root / "run")


@pytest.fixture(scope="session")
def served_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """An OpenAI-compatible teacher on loopback (the fault server), an API key in the environment, and
    prompts whose markers make the teacher answer with the wrong verdict (quarantined rows)."""
    root = tmp_path_factory.mktemp("served_run")
    faulty = [{"prompt": f"{p} [[fault:wrong_verdict]]"} for p in NEUTRAL_PROMPTS[:2]]
    user = write_jsonl(root / "mixed.jsonl", [{"prompt": p} for p in NEUTRAL_PROMPTS[2:]] + faulty)
    patch = pytest.MonkeyPatch()
    patch.setenv(SECRET_ENV, SECRET)
    with FaultServer() as server:
        yield build_run({
            "name": "ds-served",
            "prompts": {"sources": [
                {"kind": "harmbench", "n": 3},
                {"kind": "file", "path": str(user), "label": "benign", "source_name": "user-file"},
            ]},
            "synthesis": {"max_repair_attempts": 1, "teacher": {
                "backend": "openai", "model": "fault-teacher", "base_url": server.base_url,
                "api_key_env": SECRET_ENV, "max_retries": 0, "concurrency": 4,
            }},
        }, root / "run")
    patch.undo()
