"""Render and tokenize training records with the model's own chat template.

Two data formats, both tokenized here (not by the trainer), so the template check inspects exactly
the ``input_ids``/``labels`` the trainer trains on, under every TRL version:

* ``prompt_completion``: prompt = the template applied to the conversation up to the user turn with
  the generation prompt; completion = the trace (minus any part the generation prompt already
  pre-fills, such as R1-Distill's opening ``<think>``) + EOS. Prompt and completion are tokenized apart and
  concatenated, so training sees the very token prefix the model sees at inference; loss on the
  completion only. Works with every template, including those that strip ``<think>`` from history.
* ``conversation``: the whole conversation rendered by a template with ``{% generation %}`` markers;
  loss on the tokens the markers cover.

``auto`` picks ``conversation`` when the template has generation markers, ``prompt_completion``
otherwise. A conversation is rendered in the markers of its language (:func:`conversation_language`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from alttrain.errors import ChatTemplateError
from alttrain.languages import row_language
from alttrain.models.templates import ChatTemplate
from alttrain.structure import Markers, StructureSpec
from alttrain.training.config import DataFormat

ResolvedFormat = Literal["prompt_completion", "conversation"]
Message = dict[str, str]
IGNORE_INDEX = -100


@dataclass(frozen=True)
class TokenizedExample:
    """One training sequence: token ids and labels (``IGNORE_INDEX`` where no loss is taken)."""

    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        """How many tokens carry loss."""
        return sum(label != IGNORE_INDEX for label in self.labels)


def conversation_language(messages: list[Message], language: str | None = None) -> str:
    """A training conversation's language: ``language`` when given, else detected from its last user turn."""
    user = messages[-2].get("content") if len(messages) >= 2 else None
    return row_language(language, user if isinstance(user, str) else "")


def resolve_format(setting: DataFormat, template: ChatTemplate) -> ResolvedFormat:
    """The data format to train with; ``conversation`` needs generation markers.

    Raises:
        ChatTemplateError: when ``conversation`` is asked for but the template has no markers.

    """
    if setting == "auto":
        return "conversation" if template.has_generation_markers else "prompt_completion"
    if setting == "conversation" and not template.has_generation_markers:
        raise ChatTemplateError(
            f"format 'conversation' needs {{% generation %}} markers, and template {template.name!r} has none; "
            "use format 'prompt_completion' (or 'auto')"
        )
    return setting


@dataclass(frozen=True)
class ChatRenderer:
    """Renders and tokenizes conversations (user turns, then one final assistant turn)."""

    tokenizer: Any
    template: ChatTemplate
    format: ResolvedFormat
    spec: StructureSpec

    def prompt_text(self, messages: list[Message]) -> str:
        """The template applied to everything before the final assistant turn, with the generation prompt."""
        return self.tokenizer.apply_chat_template(
            messages[:-1], chat_template=self.template.text, tokenize=False, add_generation_prompt=True
        )

    def markers(self, messages: list[Message], language: str | None = None) -> Markers:
        """The markers of the conversation's language (:func:`conversation_language`)."""
        return self.spec.markers(conversation_language(messages, language))

    def completion_text(self, prompt: str, trace: str, think_open: str | None = None) -> str:
        """The trace minus whatever the generation prompt already pre-fills of it, followed by EOS.

        ``think_open``: the opening think tag of the trace's markers (default: the English set's).
        """
        opening = think_open or self.spec.think_open
        return trace[_prefilled_length(prompt, trace, opening) :] + self.tokenizer.eos_token

    def tokenize(self, messages: list[Message], language: str | None = None) -> TokenizedExample:
        """Token ids and loss labels for one conversation in this renderer's format and its language's markers."""
        if self.format == "conversation":
            return self._tokenize_conversation(messages)
        prompt = self.prompt_text(messages)
        prompt_ids = self._encode(prompt)
        think_open = self.markers(messages, language).think_open
        completion_ids = self._encode(self.completion_text(prompt, messages[-1]["content"], think_open))
        return TokenizedExample(
            input_ids=prompt_ids + completion_ids, labels=[IGNORE_INDEX] * len(prompt_ids) + completion_ids
        )

    def _encode(self, text: str) -> list[int]:
        """Token ids of text; special tokens come from the template, never added twice."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _tokenize_conversation(self, messages: list[Message]) -> TokenizedExample:
        """The whole conversation, loss on the tokens the generation markers cover."""
        out = self.tokenizer.apply_chat_template(
            messages,
            chat_template=self.template.text,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        ids = list(out["input_ids"])
        mask = list(out["assistant_masks"])
        return TokenizedExample(
            input_ids=ids, labels=[tok if bit else IGNORE_INDEX for tok, bit in zip(ids, mask, strict=True)]
        )


def _prefilled_length(prompt: str, trace: str, think_open: str) -> int:
    """Length of the longest start of ``trace`` (at least the think marker) that ``prompt`` ends with."""
    if not trace.startswith(think_open):
        return 0
    for length in range(min(len(trace), len(think_open) + 8), len(think_open) - 1, -1):
        if prompt.endswith(trace[:length]):
            return length
    return 0
