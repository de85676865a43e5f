"""The distribution gap: a model's mean per-token negative log-likelihood of traces, given their prompts.

Each (prompt, trace) pair is framed as training frames it (``prompt_completion``): the chat template applied
to the user's prompt with the generation prompt, then the trace (minus the think marker a template already
pre-fills), tokenized apart and concatenated. Only the trace's tokens are scored; the mean is over every
scored token of the dataset (nats per token). The lower it is, the closer the data is to what the model
would write itself (ThinkSafe, DGR). Computed with transformers in fp32, in length-sorted, right-padded batches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alttrain.models.source import resolve_model
from alttrain.models.templates import resolve_template

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TraceNll:
    """The mean per-token NLL of a dataset's traces, and what it was taken over."""

    mean: float  # nats per trace token, over every scored token (nan without any)
    tokens: int  # trace tokens scored
    rows: int  # pairs scored
    truncated: int  # pairs whose trace was cut at ``max_length``


class NllScorer:
    """A model and its chat template, loaded once, scoring datasets of (prompt, trace) pairs.

    Args:
        model: a hub id, a checkpoint directory or ``smollm2-embedded``.
        cache_dir: where ``smollm2-embedded`` is converted to.
        chat_template: ``auto``, a shipped name or a file (as ``training.chat_template``).
        think_open: the think marker a template may pre-fill in its generation prompt.
        max_length: tokens per sequence; longer traces are cut (and counted in ``truncated``).

    """

    def __init__(
        self, model: str, *, cache_dir: Path, chat_template: str = "auto", think_open: str = "<think>",
        max_length: int = 2048,
    ) -> None:  # fmt: skip
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        resolved = resolve_model(model, cache_dir.expanduser())
        self._tokenizer: Any = AutoTokenizer.from_pretrained(resolved)
        self._template = resolve_template(chat_template, self._tokenizer).text
        self._model: Any = AutoModelForCausalLM.from_pretrained(resolved, dtype=torch.float32).eval()
        self._think_open, self._max_length = think_open, max_length

    def encode(self, prompt: str, trace: str) -> tuple[list[int], int, bool]:
        """Token ids of the framed pair, how many are the prompt's, and whether the trace was cut."""
        framed = self._tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], chat_template=self._template, tokenize=False,
            add_generation_prompt=True,
        )  # fmt: skip
        if framed.rstrip().endswith(self._think_open) and trace.startswith(self._think_open):
            trace = trace[len(self._think_open) :]
        prompt_ids = self._tokenizer(framed, add_special_tokens=False)["input_ids"]
        trace_ids = self._tokenizer(trace, add_special_tokens=False)["input_ids"]
        ids = list(prompt_ids) + list(trace_ids)
        return ids[: self._max_length], len(prompt_ids), len(ids) > self._max_length

    def score(self, pairs: Sequence[tuple[str, str]], batch_size: int = 8) -> TraceNll:
        """The mean per-token NLL of every trace given its prompt."""
        import torch

        encoded = [self.encode(prompt, trace) for prompt, trace in pairs]
        order = sorted(range(len(encoded)), key=lambda index: len(encoded[index][0]))
        total, tokens = 0.0, 0
        for start in range(0, len(order), batch_size):
            batch = [encoded[index] for index in order[start : start + batch_size]]
            width = max(len(ids) for ids, _, _ in batch)
            pad = self._tokenizer.pad_token_id or 0
            input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _, _ in batch])
            mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _, _ in batch])
            labels = input_ids.clone()
            for row, (ids, prompt_length, _) in enumerate(batch):
                labels[row, :prompt_length] = IGNORE_INDEX
                labels[row, len(ids) :] = IGNORE_INDEX
            with torch.inference_mode():
                logits = self._model(input_ids=input_ids, attention_mask=mask).logits[:, :-1].float()
            targets = labels[:, 1:]
            losses = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"
            )
            total += float(losses)
            tokens += int((targets != IGNORE_INDEX).sum())
        mean = total / tokens if tokens else math.nan
        return TraceNll(mean=mean, tokens=tokens, rows=len(pairs), truncated=sum(cut for _, _, cut in encoded))
