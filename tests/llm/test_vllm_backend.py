"""The vLLM backend without vLLM: the missing-vLLM error, its cache key and option checks.

The engine itself is exercised with the real vLLM in tests/llm/test_vllm_teacher.py (marker ``vllm``,
run in .venv-vllm).
"""

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from alttrain.errors import ConfigError
from alttrain.llm.backends.vllm_backend import VLLMBackend
from alttrain.llm.backends.vllm_engine import LORA_RANKS, lora_rank_for
from alttrain.llm.config import TeacherConfig, VLLMOptions


def test_without_vllm_the_backend_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail as if not installed
    with pytest.raises(ConfigError, match=r"backend 'vllm' needs vLLM, which is not installed .*"
                                          r"pip install '\.\[gpu\]'.*setup_extras\.sh vllm"):
        VLLMBackend(TeacherConfig(backend="vllm", model="Qwen/Qwen3-8B"))


def test_the_cache_key_covers_every_engine_option_and_the_template_text(tmp_path: Path):
    template = tmp_path / "chat.jinja"
    template.write_text("{{ messages[0]['content'] }}")
    teacher = TeacherConfig(backend="vllm", model="m", vllm={"chat_template": template, "enforce_eager": True})
    options = VLLMBackend.key_options(teacher)
    assert set(options) == set(VLLMOptions.model_fields) - {"model_cache_dir"}
    assert options["enforce_eager"] is True
    template.write_text("{{ messages[-1]['content'] }}")
    assert VLLMBackend.key_options(teacher)["chat_template"] != options["chat_template"]
    parsed = teacher.model_copy(update={"vllm": teacher.vllm.model_copy(update={"reasoning_parser": "qwen3"})})
    assert VLLMBackend.key_options(parsed) != VLLMBackend.key_options(teacher)


def test_a_thinking_budget_needs_a_reasoning_parser():
    with pytest.raises(ValidationError, match="thinking_token_budget needs reasoning_parser"):
        VLLMOptions(thinking_token_budget=64)
    assert VLLMOptions(thinking_token_budget=64, reasoning_parser="deepseek_r1").thinking_token_budget == 64


def test_lora_rank_is_rounded_up_to_one_vllm_serves():
    assert [lora_rank_for(r) for r in (1, 8, 9, 16, 17, 256)] == [8, 8, 16, 16, 32, 256]
    with pytest.raises(ConfigError, match="ranks up to 256"):
        lora_rank_for(LORA_RANKS[-1] + 1)
