"""A model under test generated with transformers on this machine: a checkpoint, an optional PEFT adapter.

The adapter is merged into the weights (the same function, without seven small extra matmuls per layer;
in bf16 the merged delta is rounded to the weights' precision, as when a merged bf16 model is served).
:meth:`TransformersBackend.complete_many` decodes the requests it is given in length-sorted, left-padded
batches of ``transformers.batch_size``: padding changes the numbers, so which requests share a batch is
part of the outputs, and the client hands it every uncached request at once. The model is loaded with the
first request that reaches the backend: a re-run answered from the cache loads nothing.

A request with ``choices`` is not generated but scored (:meth:`TransformersBackend.choose`): each choice's
tokens (tokenized alone) follow the rendered conversation, its prefill included, and the choice with the
highest summed log-probability is the answer (the first on a tie), so the model's own likelihood decides,
deterministically and whatever the sampling.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from alttrain.llm.backends.base import Outcome, Send, TeacherBackend
from alttrain.llm.backends.checkpoint import Checkpoint
from alttrain.llm.config import CheckpointOptions, TeacherConfig
from alttrain.llm.types import PermanentTeacherError, SamplingParams, TeacherRequest, TeacherResponse
from alttrain.models.precision import resolve_precision, torch_dtype

FINISH_STOP = "stop"
FINISH_LENGTH = "length"


def length_sorted_batches(prompts: list[str], batch_size: int) -> list[list[int]]:
    """The positions of ``prompts`` in batches of ``batch_size``, shortest prompts first (less padding)."""
    ordered = sorted(range(len(prompts)), key=lambda position: len(prompts[position]))
    return [ordered[start : start + batch_size] for start in range(0, len(ordered), batch_size)]


class TransformersBackend(TeacherBackend):
    """Batched generation with transformers (+ a merged PEFT adapter) in this process.

    Raises:
        MissingInputError: at construction when ``checkpoint.adapter`` holds no PEFT adapter.

    """

    supports_lora = True
    supports_prefill = True  # the chat template is rendered here, continuing a final assistant message
    supports_choices = True  # each choice scored as the conversation's continuation
    supports_ray = False  # the outputs depend on which requests are padded into one batch

    def __init__(self, teacher: TeacherConfig) -> None:
        self._teacher = teacher
        self._checkpoint = Checkpoint(teacher.model, _checkpoint_options(teacher))
        self._options = teacher.transformers
        self._precision = resolve_precision(self._options.precision, "cpu")
        self._loaded: tuple[Any, Any, str] | None = None

    @classmethod
    def key_options(cls, teacher: TeacherConfig) -> dict[str, Any]:
        """The weights' precision (greedy outputs differ between precisions)."""
        return {"precision": resolve_precision(teacher.transformers.precision, "cpu")}

    @classmethod
    def identity(cls, teacher: TeacherConfig) -> str:
        """``transformers:<model>@<hash>[+adapter@<hash>][~template:<name>]``."""
        return Checkpoint(teacher.model, _checkpoint_options(teacher)).identity(teacher.backend)

    @property
    def name(self) -> str:
        """The model's identity."""
        return self._checkpoint.identity(self._teacher.backend)

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (a run answered from the cache never loads it)."""
        return self._loaded is not None

    async def complete(self, request: TeacherRequest) -> TeacherResponse:
        """Answer one request (a batch of one)."""
        tokenizer, model, template = await self._load()
        prompt = self._checkpoint.render(tokenizer, template, request.messages)
        if request.choices is not None:
            return (await asyncio.to_thread(self.choose, tokenizer, model, [prompt], [request.choices]))[0]
        return (await asyncio.to_thread(self._generate_batch, tokenizer, model, [prompt], request.sampling))[0]

    async def complete_many(self, requests: list[TeacherRequest], send: Send) -> AsyncIterator[tuple[int, Outcome]]:
        """Generate in length-sorted, left-padded batches (requests with the same sampling together).

        Requests with ``choices`` are scored, ``batch_size`` requests at a time.
        """
        tokenizer, model, template = await self._load()
        groups: dict[SamplingParams, list[int]] = {}
        choosing: list[int] = []
        for position, request in enumerate(requests):
            if request.choices is not None:
                choosing.append(position)
            else:
                groups.setdefault(request.sampling, []).append(position)
        for start in range(0, len(choosing), self._options.batch_size):
            batch = choosing[start : start + self._options.batch_size]
            prompts = [self._checkpoint.render(tokenizer, template, requests[p].messages) for p in batch]
            choices = [requests[p].choices or () for p in batch]
            answers = await asyncio.to_thread(self.choose, tokenizer, model, prompts, choices)
            for position, answer in zip(batch, answers, strict=True):
                yield position, answer
        for sampling, positions in groups.items():
            prompts = [self._checkpoint.render(tokenizer, template, requests[p].messages) for p in positions]
            for batch in length_sorted_batches(prompts, self._options.batch_size):
                batch_prompts = [prompts[i] for i in batch]
                answers = await asyncio.to_thread(self._generate_batch, tokenizer, model, batch_prompts, sampling)
                for i, answer in zip(batch, answers, strict=True):
                    yield positions[i], answer

    async def aclose(self) -> None:
        """Let the model go."""
        self._loaded = None

    async def _load(self) -> tuple[Any, Any, str]:
        """Load tokenizer, model (the adapter merged in when configured) and chat template, once."""
        if self._loaded is None:
            self._loaded = await asyncio.to_thread(self._load_now)
        return self._loaded

    def _load_now(self) -> tuple[Any, Any, str]:
        import torch
        from transformers import AutoModelForCausalLM

        if self._options.threads:
            torch.set_num_threads(self._options.threads)
        checkpoint = self._checkpoint
        tokenizer, template = checkpoint.load_tokenizer()
        model = AutoModelForCausalLM.from_pretrained(checkpoint.resolved, dtype=torch_dtype(self._precision))
        if checkpoint.adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(checkpoint.adapter)).merge_and_unload()
        model.eval()
        return tokenizer, model, template

    def choose(
        self, tokenizer: Any, model: Any, prompts: list[str], choices: list[tuple[str, ...]]
    ) -> list[TeacherResponse]:
        """The most likely of each prompt's ``choices`` (each tokenized alone; the first on a tie) as its answer.

        Raises:
            PermanentTeacherError: an empty prompt, no choices or an empty choice.

        """
        answers = []
        for prompt, options in zip(prompts, choices, strict=True):
            prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            continuations = [tokenizer(choice, add_special_tokens=False)["input_ids"] for choice in options]
            if not prompt_ids or not continuations or not all(continuations):
                raise PermanentTeacherError(f"choices {options!r} need a prompt and non-empty choices")
            scores = continuation_log_probs(model, prompt_ids, continuations, tokenizer.pad_token_id)
            best = max(range(len(options)), key=scores.__getitem__)
            answers.append(TeacherResponse(options[best], None, len(prompt_ids), len(continuations[best]), FINISH_STOP))
        return answers

    def _generate_batch(
        self, tokenizer: Any, model: Any, prompts: list[str], sampling: SamplingParams
    ) -> list[TeacherResponse]:
        """Generate for one left-padded batch; cut each output at its first stop token."""
        import torch

        inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
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
        prompt_lengths = inputs["attention_mask"].sum(dim=1).tolist()
        answers = []
        rows = output[:, inputs["input_ids"].shape[1] :].tolist()
        for prompt, length, row in zip(prompts, prompt_lengths, rows, strict=True):
            cut = next((i for i, token in enumerate(row) if token in stops), None)
            tokens = row if cut is None else row[:cut]
            text = tokenizer.decode(tokens, skip_special_tokens=False)
            finish = FINISH_LENGTH if cut is None else FINISH_STOP
            answers.append(self._checkpoint.finish(prompt, text, len(tokens), finish, prompt_tokens=int(length)))
        return answers


def continuation_log_probs(model: Any, prompt_ids: list[int], continuations: list[list[int]], pad: int) -> list[float]:
    """Each continuation's summed log-probability after ``prompt_ids`` (one right-padded forward pass)."""
    import torch

    sequences = [prompt_ids + continuation for continuation in continuations]
    width = max(map(len, sequences))
    ids = torch.tensor([sequence + [pad] * (width - len(sequence)) for sequence in sequences])
    mask = torch.tensor([[1] * len(sequence) + [0] * (width - len(sequence)) for sequence in sequences])
    with torch.inference_mode():
        log_probs = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
    start = len(prompt_ids)
    return [
        sum(float(log_probs[row, start + i - 1, token]) for i, token in enumerate(continuation))
        for row, continuation in enumerate(continuations)
    ]


def _checkpoint_options(teacher: TeacherConfig) -> CheckpointOptions:
    """The configured checkpoint options, else the defaults (no adapter, the tokenizer's template)."""
    return teacher.checkpoint or CheckpointOptions()


def _stop_ids(tokenizer: Any, model: Any) -> set[int]:
    """Token ids that end a generation: the tokenizer's and the generation config's EOS, and padding."""
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids = set(configured if isinstance(configured, list) else [configured])
    ids |= {tokenizer.eos_token_id, tokenizer.pad_token_id}
    return {token for token in ids if token is not None}
