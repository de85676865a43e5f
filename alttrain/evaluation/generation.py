"""Generation from a model under test: transformers on this machine, or the teacher client.

Both paths answer a list of chat conversations with one :class:`Generation` each, through the same
SQLite response cache as synthesis (:mod:`alttrain.llm.cache`), keyed by the model's identity,
the messages and the sampling parameters. The transformers path identifies a model by its name plus
a hash of its files (config and weight sizes; the adapter's weights in full), so retraining an
adapter changes every key; it loads the model only when a conversation is not cached, and decodes
greedily (``temperature: 0``) in batches with left padding, rendering prompts with the chat template
training used (:func:`alttrain.training.chat.resolve_template`). When that template pre-fills the
think marker in the generation prompt, the marker is put back in front of the output.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from alttrain.errors import MissingInputError
from alttrain.llm.cache import ResponseCache, keyed_request
from alttrain.llm.client import TeacherClient, teacher_identity
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import SamplingParams, TeacherError, TeacherRequest, TeacherResponse
from alttrain.models.templates import resolve_template

Message = dict[str, str]
FINISH_STOP = "stop"
FINISH_LENGTH = "length"


@dataclass(frozen=True)
class Generation:
    """One model output, or the error that prevented it (``text`` is then empty).

    ``reasoning`` holds a separate reasoning channel when the server returns one (``reasoning_content``).
    """

    text: str
    reasoning: str | None = None
    completion_tokens: int = 0
    finish_reason: str | None = None
    error: str | None = None


class Generator(Protocol):
    """Anything that answers conversations for one model."""

    identity: str

    def generate(self, conversations: list[list[Message]]) -> list[Generation]:
        """Answer every conversation, in order."""
        ...


def _hash_files(digest: Any, folder: Path, patterns: tuple[str, ...], *, content: bool) -> None:
    """Feed the names and sizes (or contents) of ``folder``'s files matching ``patterns`` into ``digest``."""
    for path in sorted(p for pattern in patterns for p in folder.glob(pattern)):
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if content else str(path.stat().st_size).encode())


def model_identity(model: str, resolved: str, adapter: Path | None, chat_template: str = "auto") -> str:
    """``transformers:<model>[@<hash>][+adapter@<hash>][~template:<name>]``: what the cache keys a model by.

    The hashes cover the configs, tokenizer config and chat template files (contents) and the weight
    files (sizes) of a checkpoint directory, and every file of an adapter that decides its outputs; a
    chat template given by file is named by a hash of its contents.
    """
    identity = f"transformers:{model}"
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


class TransformersGenerator:
    """Batched generation with transformers (+ PEFT adapter) on this machine.

    Args:
        model: the model's name as configured (part of the identity).
        resolved: where to load it from (a hub id or a checkpoint directory).
        adapter: a PEFT adapter directory; its tokenizer (and the template saved with it) is used when
            it has one.
        sampling: ``temperature`` 0 decodes greedily; ``max_tokens`` bounds the new tokens.
        batch_size: conversations per ``generate`` call (sorted by length to limit padding).
        cache: the response cache, or None.
        chat_template: the training setting (``auto``, a shipped name, or a template file).
        think_open: the structure's think marker (put back when the template pre-fills it).
        threads: torch CPU threads, or None for torch's choice.

    """

    def __init__(
        self,
        model: str,
        resolved: str,
        adapter: Path | None,
        sampling: SamplingParams,
        batch_size: int,
        cache: ResponseCache | None,
        *,
        chat_template: str = "auto",
        think_open: str = "<think>",
        threads: int | None = None,
    ) -> None:
        if adapter is not None and not (adapter / "adapter_config.json").exists():
            raise MissingInputError(f"{adapter}: no PEFT adapter here (run the 'train' stage first)")
        self.identity = model_identity(model, resolved, adapter, chat_template)
        self._resolved, self._adapter = resolved, adapter
        self._sampling, self._batch_size = sampling, batch_size
        self._cache, self._threads = cache, threads
        self._chat_template, self._think_open = chat_template, think_open
        self._loaded: tuple[Any, Any, str] | None = None

    def generate(self, conversations: list[list[Message]]) -> list[Generation]:
        """Answer from the cache where possible, then generate the rest in length-sorted batches."""
        requests = [TeacherRequest(messages=c, sampling=self._sampling) for c in conversations]
        keys = [keyed_request(self.identity, request) for request in requests]
        results: list[Generation | None] = [None] * len(requests)
        for index, (key, _) in enumerate(keys):
            cached = self._cache.get(key) if self._cache is not None else None
            if cached is not None:
                results[index] = Generation(cached.text, None, cached.completion_tokens, cached.finish_reason)
        missing = [index for index, result in enumerate(results) if result is None]
        if missing:
            tokenizer, model, template = self._load()
            prompts = {i: self._render(tokenizer, template, conversations[i]) for i in missing}
            ordered = sorted(missing, key=lambda i: len(prompts[i]))
            for start in range(0, len(ordered), self._batch_size):
                batch = ordered[start : start + self._batch_size]
                generated = self._generate_batch(tokenizer, model, [prompts[i] for i in batch])
                for index, generation in zip(batch, generated, strict=True):
                    results[index] = generation
                    self._store(keys[index], generation)
        return [result for result in results if result is not None]

    def _store(self, key: tuple[str, str], generation: Generation) -> None:
        """Cache one generated answer as a teacher response."""
        if self._cache is not None:
            response = TeacherResponse(generation.text, None, 0, generation.completion_tokens, generation.finish_reason)
            self._cache.put(key[0], self.identity, key[1], response)

    def _load(self) -> tuple[Any, Any, str]:
        """Load tokenizer, model (the adapter on top when configured) and chat template, once."""
        if self._loaded is None:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            if self._threads:
                torch.set_num_threads(self._threads)
            tokenizer_source = self._adapter if self._has_tokenizer(self._adapter) else self._resolved
            tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_source))
            tokenizer.padding_side = "left"
            if tokenizer.pad_token_id is None:
                tokenizer.pad_token = tokenizer.eos_token
            template = resolve_template(self._chat_template, tokenizer).text
            model = AutoModelForCausalLM.from_pretrained(self._resolved, dtype=torch.float32)
            if self._adapter is not None:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, str(self._adapter))
            model.eval()
            self._loaded = (tokenizer, model, template)
        return self._loaded

    @staticmethod
    def _has_tokenizer(folder: Path | None) -> bool:
        """Whether ``folder`` holds a saved tokenizer."""
        return folder is not None and (folder / "tokenizer_config.json").exists()

    def _render(self, tokenizer: Any, template: str, conversation: list[Message]) -> str:
        """Render the conversation through the chat template, with the generation prompt."""
        return tokenizer.apply_chat_template(
            conversation, chat_template=template, tokenize=False, add_generation_prompt=True
        )

    def _generate_batch(self, tokenizer: Any, model: Any, prompts: list[str]) -> list[Generation]:
        """Generate for one left-padded batch; cut each output at its first stop token."""
        import torch

        inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        sampling = self._sampling
        options: dict[str, Any] = {"max_new_tokens": sampling.max_tokens, "pad_token_id": tokenizer.pad_token_id}
        if sampling.temperature > 0:
            torch.manual_seed(sampling.seed or 0)
            options.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p)
        else:
            options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if sampling.repetition_penalty is not None:
            options["repetition_penalty"] = sampling.repetition_penalty
        with torch.inference_mode():
            output = model.generate(**inputs, **options)
        stops = _stop_ids(tokenizer, model)
        generations = []
        for prompt, row in zip(prompts, output[:, inputs["input_ids"].shape[1] :].tolist(), strict=True):
            cut = next((i for i, token in enumerate(row) if token in stops), None)
            tokens = row if cut is None else row[:cut]
            text = tokenizer.decode(tokens, skip_special_tokens=False)
            if prompt.rstrip().endswith(self._think_open):
                text = f"{self._think_open}\n{text}"
            finish = FINISH_LENGTH if cut is None else FINISH_STOP
            generations.append(Generation(text.strip(), None, len(tokens), finish))
        return generations


def _stop_ids(tokenizer: Any, model: Any) -> set[int]:
    """Token ids that end a generation: the tokenizer's and the generation config's EOS, and padding."""
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids = set(configured if isinstance(configured, list) else [configured])
    ids |= {tokenizer.eos_token_id, tokenizer.pad_token_id}
    return {token for token in ids if token is not None}


class TeacherGenerator:
    """Generation through the teacher client (OpenAI-compatible endpoint, vLLM engine, local server)."""

    def __init__(self, teacher: TeacherConfig, sampling: SamplingParams, cache: ResponseCache | None) -> None:
        self._teacher, self._sampling, self._cache = teacher, sampling, cache
        self.identity = teacher_identity(teacher)

    def generate(self, conversations: list[list[Message]]) -> list[Generation]:
        """Send every conversation concurrently; a request that fails becomes a row error."""
        return asyncio.run(self._generate_all(conversations))

    async def _generate_all(self, conversations: list[list[Message]]) -> list[Generation]:
        async with TeacherClient(self._teacher, self._cache) as client:
            return list(await asyncio.gather(*(self._one(client, c) for c in conversations)))

    async def _one(self, client: TeacherClient, conversation: list[Message]) -> Generation:
        try:
            response = await client.complete(TeacherRequest(messages=conversation, sampling=self._sampling))
        except TeacherError as error:
            return Generation("", error=f"{type(error).__name__}: {error}")
        return Generation(response.text, response.reasoning_content, response.completion_tokens,
                          response.finish_reason)
