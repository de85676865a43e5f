"""Generation from a model under test: transformers or vLLM on this machine, or the teacher client.

All paths answer a list of chat conversations with one :class:`Generation` each, through the same
SQLite response cache as synthesis (:mod:`alttrain.llm.cache`), keyed by the model's identity,
the messages and the sampling parameters. The transformers path identifies a model by its name plus
a hash of its files (config and weight sizes; the adapter's weights in full), so retraining an
adapter changes every key; it loads the model only when a conversation is not cached, and decodes
greedily (``temperature: 0``) in batches with left padding, rendering prompts with the chat template
training used (:func:`alttrain.training.chat.resolve_template`). When that template pre-fills the
think marker in the generation prompt, the marker is put back in front of the output. The vLLM path
renders the same prompts and serves the adapter through vLLM's LoRA support (keys prefixed ``vllm:``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from alttrain.errors import MissingInputError
from alttrain.llm.backends.vllm_engine import VLLMEngine, lora_rank_for
from alttrain.llm.cache import ResponseCache, keyed_request
from alttrain.llm.client import TeacherClient, teacher_identity
from alttrain.llm.config import TeacherConfig, VLLMOptions
from alttrain.llm.types import SamplingParams, TeacherError, TeacherRequest, TeacherResponse
from alttrain.models.precision import Precision, resolve_precision, torch_dtype
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


def model_identity(
    model: str, resolved: str, adapter: Path | None, chat_template: str = "auto", backend: str = "transformers"
) -> str:
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


class LocalGenerator(ABC):
    """Generation from a local checkpoint (plus a PEFT adapter) on this machine; subclasses decode.

    It owns what the transformers and vLLM paths share: the identity, the cache (answered first, each new
    answer stored as it comes), the tokenizer and chat template training used, and the output's clean-up.

    Args:
        model: the model's name as configured (part of the identity).
        resolved: where to load it from (a hub id or a checkpoint directory).
        adapter: a PEFT adapter directory; its tokenizer (and the template saved with it) is used when
            it has one.
        sampling: ``temperature`` 0 decodes greedily; ``max_tokens`` bounds the new tokens.
        cache: the response cache, or None.
        chat_template: the training setting (``auto``, a shipped name, or a template file).
        think_open: the structure's think marker (put back when the template pre-fills it).

    Raises:
        MissingInputError: when ``adapter`` holds no PEFT adapter.

    """

    backend = "local"  # the identity's prefix

    def __init__(
        self,
        model: str,
        resolved: str,
        adapter: Path | None,
        sampling: SamplingParams,
        cache: ResponseCache | None,
        *,
        chat_template: str = "auto",
        think_open: str = "<think>",
    ) -> None:
        if adapter is not None and not (adapter / "adapter_config.json").exists():
            raise MissingInputError(f"{adapter}: no PEFT adapter here (run the 'train' stage first)")
        self.identity = model_identity(model, resolved, adapter, chat_template, self.backend)
        self._resolved, self._adapter = resolved, adapter
        self._sampling, self._cache = sampling, cache
        self._chat_template, self._think_open = chat_template, think_open

    def generate(self, conversations: list[list[Message]]) -> list[Generation]:
        """Answer from the cache where possible, then generate the rest (each stored once generated)."""
        requests = [TeacherRequest(messages=c, sampling=self._sampling) for c in conversations]
        keys = [keyed_request(self.identity, request, options=self.key_options()) for request in requests]
        results: list[Generation | None] = [None] * len(requests)
        for index, (key, _) in enumerate(keys):
            cached = self._cache.get(key) if self._cache is not None else None
            if cached is not None:
                results[index] = Generation(cached.text, cached.reasoning_content, cached.completion_tokens,
                                            cached.finish_reason)
        missing = {index: conversations[index] for index, result in enumerate(results) if result is None}
        if missing:
            for index, generation in self._produce(missing):
                results[index] = generation
                self._store(keys[index], generation)
        return [result for result in results if result is not None]

    def key_options(self) -> dict[str, Any] | None:
        """Settings beyond the identity and sampling that change the outputs (part of every cache key)."""
        return None

    @abstractmethod
    def _produce(self, conversations: dict[int, list[Message]]) -> Iterator[tuple[int, Generation]]:
        """Generate for the conversations not cached, yielding ``(index, generation)`` as each is ready."""

    def _store(self, key: tuple[str, str], generation: Generation) -> None:
        """Cache one generated answer as a teacher response (failures are not cached)."""
        if self._cache is not None and generation.error is None:
            response = TeacherResponse(generation.text, generation.reasoning, 0, generation.completion_tokens,
                                       generation.finish_reason)
            self._cache.put(key[0], self.identity, key[1], response)

    def _load_tokenizer(self) -> tuple[Any, str]:
        """The tokenizer (the adapter's when it saved one; left padding) and the chat template training used."""
        from transformers import AutoTokenizer

        tokenizer_source = self._adapter if self._has_tokenizer(self._adapter) else self._resolved
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_source))
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer, resolve_template(self._chat_template, tokenizer).text

    @staticmethod
    def _has_tokenizer(folder: Path | None) -> bool:
        """Whether ``folder`` holds a saved tokenizer."""
        return folder is not None and (folder / "tokenizer_config.json").exists()

    def _render(self, tokenizer: Any, template: str, conversation: list[Message]) -> str:
        """Render the conversation through the chat template, with the generation prompt."""
        return tokenizer.apply_chat_template(
            conversation, chat_template=template, tokenize=False, add_generation_prompt=True
        )

    def _finish(
        self, prompt: str, text: str, tokens: int, finish: str | None, reasoning: str | None = None
    ) -> Generation:
        """The generation for ``prompt``: the think marker put back when the template pre-filled it."""
        if prompt.rstrip().endswith(self._think_open):
            text = f"{self._think_open}\n{text}"
        return Generation(text.strip(), reasoning, tokens, finish)


class TransformersGenerator(LocalGenerator):
    """Batched generation with transformers (+ PEFT adapter) on this machine.

    Args:
        model, resolved, adapter, sampling, cache, chat_template, think_open: as :class:`LocalGenerator`.
        batch_size: conversations per ``generate`` call (sorted by length to limit padding).
        threads: torch CPU threads, or None for torch's choice.
        precision: the weights' precision (``auto``: bf16 where the CPU or GPU computes it natively);
            part of every cache key, since greedy outputs differ between precisions.

    """

    backend = "transformers"

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
        precision: Precision = "auto",
    ) -> None:
        super().__init__(model, resolved, adapter, sampling, cache, chat_template=chat_template,
                         think_open=think_open)
        self._batch_size, self._threads = batch_size, threads
        self._precision = resolve_precision(precision, "cpu")
        self._loaded: tuple[Any, Any, str] | None = None

    def key_options(self) -> dict[str, Any] | None:
        """The weights' precision."""
        return {"precision": self._precision}

    def _produce(self, conversations: dict[int, list[Message]]) -> Iterator[tuple[int, Generation]]:
        """Generate in length-sorted, left-padded batches."""
        tokenizer, model, template = self._load()
        prompts = {i: self._render(tokenizer, template, conversation) for i, conversation in conversations.items()}
        ordered = sorted(prompts, key=lambda i: len(prompts[i]))
        for start in range(0, len(ordered), self._batch_size):
            batch = ordered[start : start + self._batch_size]
            yield from zip(batch, self._generate_batch(tokenizer, model, [prompts[i] for i in batch]), strict=True)

    def _load(self) -> tuple[Any, Any, str]:
        """Load tokenizer, model (the adapter on top when configured) and chat template, once."""
        if self._loaded is None:
            import torch
            from transformers import AutoModelForCausalLM

            if self._threads:
                torch.set_num_threads(self._threads)
            tokenizer, template = self._load_tokenizer()
            model = AutoModelForCausalLM.from_pretrained(self._resolved, dtype=torch_dtype(self._precision))
            if self._adapter is not None:
                from peft import PeftModel

                # merged into the weights: the same function, without seven small extra matmuls per layer (in bf16
                # the merged delta is rounded to the weights' precision, as when a merged bf16 model is served)
                model = PeftModel.from_pretrained(model, str(self._adapter)).merge_and_unload()
            model.eval()
            self._loaded = (tokenizer, model, template)
        return self._loaded

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
            generations.append(self._finish(prompt, text, len(tokens), FINISH_LENGTH if cut is None else FINISH_STOP))
        return generations


class VLLMGenerator(LocalGenerator):
    """Generation through vLLM's async engine; the adapter served by vLLM's LoRA support.

    Prompts are rendered exactly as for :class:`TransformersGenerator` (the same tokenizer and chat
    template) and sent as token ids, all at once: the engine batches them continuously. The engine
    starts for one :meth:`generate` call and is shut down after it.

    Args:
        model, resolved, adapter, sampling, cache, chat_template, think_open: as :class:`LocalGenerator`.
        options: the engine options; with an adapter, LoRA is enabled at the adapter's rank.

    Raises:
        ConfigError: when vLLM is not installed.

    """

    backend = "vllm"

    def __init__(
        self,
        model: str,
        resolved: str,
        adapter: Path | None,
        sampling: SamplingParams,
        cache: ResponseCache | None,
        *,
        options: VLLMOptions,
        chat_template: str = "auto",
        think_open: str = "<think>",
    ) -> None:
        super().__init__(model, resolved, adapter, sampling, cache, chat_template=chat_template,
                         think_open=think_open)
        if adapter is not None:
            rank = int(json.loads((adapter / "adapter_config.json").read_text()).get("r", 16))
            options = options.model_copy(update={"enable_lora": True,
                                                 "max_lora_rank": max(options.max_lora_rank, lora_rank_for(rank))})
        self._options = options
        self._engine = VLLMEngine(resolved, options, where="evaluation.models")

    def key_options(self) -> dict[str, Any] | None:
        """The engine options (dtype and context length change the numbers; where models are cached does not)."""
        return self._options.model_dump(mode="json", exclude={"model_cache_dir"})

    def _produce(self, conversations: dict[int, list[Message]]) -> Iterator[tuple[int, Generation]]:
        """Start the engine, send every conversation at once, stop the engine."""
        return iter(asyncio.run(self._generate_all(conversations)))

    async def _generate_all(self, conversations: dict[int, list[Message]]) -> list[tuple[int, Generation]]:
        """Render every prompt, start the engine, send them all at once, shut the engine down."""
        tokenizer, template = self._load_tokenizer()
        prompts = {i: self._render(tokenizer, template, conversation) for i, conversation in conversations.items()}
        engine = self._engine
        await engine.start()
        try:
            lora = None if self._adapter is None else engine.lora_request("adapter", str(self._adapter))
            params = engine.sampling_params(self._sampling)
            ids = {i: tokenizer.encode(prompt, add_special_tokens=False) for i, prompt in prompts.items()}
            answers = await asyncio.gather(*(self._one(prompts[i], ids[i], params, lora) for i in prompts))
        finally:
            await engine.aclose()
        return list(zip(prompts, answers, strict=True))

    async def _one(self, prompt: str, prompt_ids: list[int], params: Any, lora: Any) -> Generation:
        """One conversation; a request vLLM fails becomes a row error."""
        try:
            output = await self._engine.generate(prompt_ids, params, lora)
        except TeacherError as error:
            return Generation("", error=f"{type(error).__name__}: {error}")
        # vLLM keeps the end-of-sequence token among the output's tokens; transformers' count stops before it
        ended_on_eos = output.finish_reason == FINISH_STOP and output.stop_reason is None and output.token_ids
        tokens = len(output.token_ids) - (1 if ended_on_eos else 0)
        return self._finish(prompt, output.text, tokens, output.finish_reason, output.reasoning)


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
