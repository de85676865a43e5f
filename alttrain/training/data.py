"""Training data: read ``RUN/dataset/hf``, check it, and tokenize it into trainer-ready sequences.

Every input row is accounted for: it is either used (possibly truncated, counted) or dropped with a
reason, and ``rows_in == rows_used + sum(dropped.values())``. Reasons:

* ``no_assistant_turn``: ``messages`` is not user turns followed by one final assistant turn;
* ``empty_assistant_turn``: the final assistant turn is blank;
* ``unstructured_trace``: the assistant turn does not parse as the AltTrain structure;
* ``over_length``: longer than ``max_length`` tokens (``overlength: drop``), or, with
  ``overlength: truncate``, cut so short that no trained token is left.

With ``overlength: truncate`` a longer sequence keeps its first ``max_length`` tokens (it loses the
end of the trace, typically the answer; the count is reported). ``overlength: error`` stops instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alttrain.errors import TrainingDataError
from alttrain.structure import StructureSpec, TraceParseError
from alttrain.training.chat import ChatRenderer, Message, TokenizedExample, conversation_language
from alttrain.training.config import OverlengthPolicy

REQUIRED_COLUMNS = ("id", "label", "messages")
TRAIN_SPLIT = "train"


@dataclass
class PreparedData:
    """Tokenized sequences plus the accounting of every input row."""

    examples: list[TokenizedExample]
    messages: list[list[Message]]
    rows_in: int
    dropped: Counter[str] = field(default_factory=Counter)
    truncated: int = 0

    @property
    def rows_used(self) -> int:
        """Rows that will be trained on."""
        return len(self.examples)

    @property
    def trained_tokens_per_epoch(self) -> int:
        """Tokens carrying loss in one pass over the data."""
        return sum(example.trained_tokens for example in self.examples)

    def to_dataset(self) -> Any:
        """A ``datasets.Dataset`` with ``input_ids``, ``labels`` and ``length`` (TRL trains such data as is)."""
        import datasets

        return datasets.Dataset.from_dict({
            "input_ids": [e.input_ids for e in self.examples],
            "labels": [e.labels for e in self.examples],
            "length": [len(e.input_ids) for e in self.examples],
        })


def load_records(dataset_dir: Path) -> list[dict[str, Any]]:
    """Rows of the ``train`` split of a dataset saved with ``save_to_disk``.

    Raises:
        TrainingDataError: when the directory is missing, is not a saved dataset, or lacks a column.

    """
    import datasets

    if not dataset_dir.exists():
        raise TrainingDataError(f"{dataset_dir}: not found (run the 'datasheet' stage first)")
    try:
        loaded = datasets.load_from_disk(str(dataset_dir))
    except FileNotFoundError as error:
        raise TrainingDataError(f"{dataset_dir}: not a saved Hugging Face dataset ({error})") from None
    if isinstance(loaded, datasets.DatasetDict):
        if TRAIN_SPLIT not in loaded:
            raise TrainingDataError(f"{dataset_dir}: no {TRAIN_SPLIT!r} split (found {list(loaded)})")
        loaded = loaded[TRAIN_SPLIT]
    missing = [column for column in REQUIRED_COLUMNS if column not in loaded.column_names]
    if missing:
        raise TrainingDataError(
            f"{dataset_dir}: missing column(s) {missing}; the training data needs {list(REQUIRED_COLUMNS)} "
            f"(found {loaded.column_names})"
        )
    if len(loaded) == 0:
        raise TrainingDataError(f"{dataset_dir}: the {TRAIN_SPLIT!r} split is empty")
    return loaded.to_list()


def prepare(
    records: list[dict[str, Any]],
    renderer: ChatRenderer,
    spec: StructureSpec,
    max_length: int,
    overlength: OverlengthPolicy,
) -> PreparedData:
    """Tokenize every usable record; drop or truncate the rest as the module docstring says.

    Raises:
        TrainingDataError: when ``overlength`` is ``error`` and a row is too long, or nothing is left.

    """
    prepared = PreparedData(examples=[], messages=[], rows_in=len(records))
    for record in records:
        messages = record["messages"]
        reason = _reject_reason(messages, spec, record.get("language"))
        if reason:
            prepared.dropped[reason] += 1
            continue
        example = renderer.tokenize(messages, record.get("language"))
        if len(example.input_ids) > max_length:
            if overlength == "error":
                raise TrainingDataError(
                    f"row {record['id']!r} is {len(example.input_ids)} tokens, over max_length {max_length} "
                    "(set training.overlength to 'drop' or 'truncate', or raise max_length)"
                )
            if overlength == "drop":
                prepared.dropped["over_length"] += 1
                continue
            example = TokenizedExample(example.input_ids[:max_length], example.labels[:max_length])
            if not example.trained_tokens:
                prepared.dropped["over_length"] += 1
                continue
            prepared.truncated += 1
        prepared.examples.append(example)
        prepared.messages.append(messages)
    if not prepared.examples:
        raise TrainingDataError(f"no row is left to train on (dropped: {dict(prepared.dropped)})")
    return prepared


def _reject_reason(messages: Any, spec: StructureSpec, language: str | None = None) -> str | None:
    """Why a record cannot be trained on (its trace parsed in its language's markers), or None."""
    if (
        not isinstance(messages, list)
        or len(messages) < 2
        or any(not isinstance(m, dict) or not isinstance(m.get("content"), str) for m in messages)
        or messages[-1].get("role") != "assistant"
        or messages[-2].get("role") != "user"
    ):
        return "no_assistant_turn"
    if not messages[-1]["content"].strip():
        return "empty_assistant_turn"
    try:
        spec.parse(messages[-1]["content"], conversation_language(messages, language))
    except TraceParseError:
        return "unstructured_trace"
    return None
