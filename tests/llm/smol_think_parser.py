"""A reasoning-parser plugin for SmolLM2, which has no <think> tokens: two of its unused special tokens.

vLLM loads it from ``vllm.reasoning_parser_plugin`` (tests/llm/test_vllm_teacher.py). Imported only there.
"""

from vllm.reasoning import ReasoningParserManager
from vllm.reasoning.basic_parsers import BaseThinkingReasoningParser

START, END = "<jupyter_text>", "<jupyter_code>"


@ReasoningParserManager.register_module("smol_think")
class SmolThinkParser(BaseThinkingReasoningParser):
    """``<jupyter_text>`` opens the reasoning, ``<jupyter_code>`` closes it."""

    @property
    def start_token(self) -> str:
        return START

    @property
    def end_token(self) -> str:
        return END
