"""A model checkpoint on this machine (plus a PEFT adapter), prompted the way training rendered its data.

What the ``transformers`` and ``vllm`` backends share when they answer as a model under test
(``TeacherConfig.checkpoint``): the identity the cache keys the model by (a hash of its files, so
retraining an adapter changes every key), the tokenizer and chat template training used (the adapter's
tokenizer when it saved one), and the output's clean-up (the think marker put back in front when the
template pre-fills it in the generation prompt).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from alttrain.errors import MissingInputError
from alttrain.llm.config import CheckpointOptions
from alttrain.llm.types import TeacherResponse
from alttrain.models.source import resolve_model
from alttrain.models.templates import resolve_template

Message = dict[str, str]


def _hash_files(digest: Any, folder: Path, patterns: tuple[str, ...], *, content: bool) -> None:
    """Feed the names and sizes (or contents) of ``folder``'s files matching ``patterns`` into ``digest``."""
    for path in sorted(p for pattern in patterns for p in folder.glob(pattern)):
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if content else str(path.stat().st_size).encode())


def model_identity(model: str, resolved: str, adapter: Path | None, chat_template: str, backend: str) -> str:
    """``<backend>:<model>[@<hash>][+adapter@<hash>][~template:<name>]``: what the cache keys a model by.

    The hashes cover the configs, tokenizer config and chat template files (contents) and the weight
    files (sizes) of a checkpoint directory, and every file of an adapter that decides its outputs; a
    chat template given by file is named by a hash of its contents.
    """
    identity = f"{backend}:{model}"
    if Path(resolved).is_dir():
        digest = hashlib.sha256()
        configs = ("config.json", "generation_config.json", "tokenizer_config.json", "chat_template.*")
        _hash_files(digest, Path(resolved), configs, content=True)
        _hash_files(digest, Path(resolved), ("*.safetensors", "*.bin", "*.gguf"), content=False)
        identity += f"@{digest.hexdigest()[:12]}"
    if adapter is not None:
        digest = hashlib.sha256()
        files = ("adapter_config.json", "adapter_model.*", "tokenizer_config.json", "chat_template.*")
        _hash_files(digest, adapter, files, content=True)
        identity += f"+adapter@{digest.hexdigest()[:12]}"
    if chat_template != "auto":
        template = Path(chat_template).expanduser()
        name = hashlib.sha256(template.read_bytes()).hexdigest()[:12] if template.is_file() else chat_template
        identity += f"~template:{name}"
    return identity


def chat_text(tokenizer: Any, messages: list[Message], template: str | None) -> str:
    """The prompt text of ``messages`` through the chat template, with the generation prompt.

    A conversation that ends with an assistant message (a prefill) gets none: the text ends inside that
    message, for the model to continue it.
    """
    prefill = bool(messages) and messages[-1]["role"] == "assistant"
    return tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                         add_generation_prompt=not prefill, continue_final_message=prefill)  # fmt: skip


class Checkpoint:
    """One checkpoint (``model``, resolved through ``options.cache_dir``) with its adapter and rendering.

    Args:
        model: the model's name as configured (a hub id, a checkpoint directory or ``smollm2-embedded``).
        options: the adapter, the training chat-template setting and the think marker.

    Raises:
        MissingInputError: when ``options.adapter`` holds no PEFT adapter.

    """

    def __init__(self, model: str, options: CheckpointOptions) -> None:
        adapter = options.adapter
        if adapter is not None and not (adapter / "adapter_config.json").exists():
            raise MissingInputError(f"{adapter}: no PEFT adapter here (run the 'train' stage first)")
        self.model, self.adapter, self.options = model, adapter, options
        self.resolved = resolve_model(model, options.cache_dir.expanduser())

    def identity(self, backend: str) -> str:
        """The model's identity under ``backend`` (:func:`model_identity`)."""
        return model_identity(self.model, self.resolved, self.adapter, self.options.chat_template, backend)

    def load_tokenizer(self) -> tuple[Any, str]:
        """The tokenizer (the adapter's when it saved one; left padding) and the chat template training used."""
        from transformers import AutoTokenizer

        adapter = self.adapter
        source = adapter if adapter is not None and (adapter / "tokenizer_config.json").exists() else self.resolved
        tokenizer = AutoTokenizer.from_pretrained(str(source))
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer, resolve_template(self.options.chat_template, tokenizer).text

    @staticmethod
    def render(tokenizer: Any, template: str, messages: list[Message]) -> str:
        """Render the conversation through the chat template (:func:`chat_text`)."""
        return chat_text(tokenizer, messages, template)

    def finish(
        self, prompt: str, text: str, tokens: int, finish: str | None, *, prompt_tokens: int = 0,
        reasoning: str | None = None,
    ) -> TeacherResponse:  # fmt: skip
        """The response to ``prompt``: the think marker put back when the template pre-filled it."""
        think_open = self.options.think_open
        if prompt.rstrip().endswith(think_open):
            text = f"{think_open}\n{text}"
        return TeacherResponse(text.strip(), reasoning, prompt_tokens, tokens, finish)
