"""Held-out checks: no prompt the model was trained on may be evaluated.

The training set is the exported dataset (``RUN/dataset/hf``, split ``train``); when a run has none,
the prompt pool (``RUN/prompts.parquet``, every prompt training could have drawn from) stands in for
it. An evaluation item overlaps the training set when its id is a training id, when its normalised prompt
is a training prompt, or when curation's near-duplicate clustering (:mod:`alttrain.curation.dedup`)
joins it to a training prompt; overlapping items are dropped and counted per reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from alttrain.errors import MissingInputError, SchemaError
from alttrain.layout import DATASET_HF_DIR, PROMPTS_FILE
from alttrain.neardup import DedupConfig, near_duplicate_components, normalised
from alttrain.records import read_stage

OVERLAP_ID = "overlap_id"
OVERLAP_TEXT = "overlap_text"
OVERLAP_NEAR_DUP = "overlap_near_dup"


@dataclass(frozen=True)
class TrainingSet:
    """The prompts a model was trained on (or could have been), and where they were read from."""

    path: Path | None
    ids: frozenset[str]
    prompts: tuple[str, ...]

    @property
    def found(self) -> bool:
        """Whether a training set was read at all."""
        return self.path is not None


def load_training_set(run_dir: Path, path: Path | None = None, *, required: bool = True) -> TrainingSet:
    """Read the training prompts: ``path`` if given, else ``RUN/dataset/hf``, else ``RUN/prompts.parquet``.

    Raises:
        MissingInputError: when ``path`` is given but missing, or when ``required`` and no default exists.

    """
    candidates = [path] if path is not None else [run_dir / DATASET_HF_DIR, run_dir / PROMPTS_FILE]
    for candidate in candidates:
        if candidate.exists():
            frame = _read_prompts(candidate)
            return TrainingSet(candidate, frozenset(frame["id"].to_list()), tuple(frame["prompt"].to_list()))
    if path is not None or required:
        raise MissingInputError(
            f"no training set at {' or '.join(str(c) for c in candidates)}: evaluation must know the "
            f"training prompts to hold them out (set evaluation.heldout.training_set, or "
            f"evaluation.heldout.require_training_set: false to evaluate without the check)"
        )
    return TrainingSet(None, frozenset(), ())


def _read_prompts(path: Path) -> pl.DataFrame:
    """Read ``id`` and ``prompt`` from a saved HF dataset (split ``train``) or a prompts-schema parquet."""
    if path.is_dir():
        import datasets

        loaded = datasets.load_from_disk(str(path))
        split = loaded["train"] if isinstance(loaded, datasets.DatasetDict) else loaded
        missing = {"id", "prompt"} - set(split.column_names)
        if missing:
            raise SchemaError(f"{path}: the training set lacks columns {sorted(missing)}")
        return pl.DataFrame({"id": split["id"], "prompt": split["prompt"]}, schema={"id": pl.String,
                                                                                  "prompt": pl.String})
    return read_stage(path, "prompts").select("id", "prompt")


def overlap_reasons(items: pl.DataFrame, training: TrainingSet, near_dup: DedupConfig) -> pl.Series:
    """Why each item overlaps the training set, null when it is held out.

    ``overlap_id``: its id is a training id; ``overlap_text``: its normalised prompt is a training
    prompt's; ``overlap_near_dup``: curation's MinHash-LSH puts it in one cluster with a training prompt.
    ``near_dup.exact`` and ``near_dup.near`` switch the last two checks.
    """
    train_texts = normalised(pl.Series(training.prompts, dtype=pl.String))
    item_texts = normalised(items["prompt"])
    exact = set(train_texts.to_list()) if near_dup.exact else set()
    components = np.arange(len(train_texts) + len(item_texts))
    if near_dup.near:
        components = near_duplicate_components(pl.concat([train_texts, item_texts]), near_dup)
    train_components = set(components[: len(train_texts)].tolist())
    reasons: list[str | None] = []
    for item_id, text, component in zip(items["id"], item_texts, components[len(train_texts) :], strict=True):
        if item_id in training.ids:
            reasons.append(OVERLAP_ID)
        elif text in exact:
            reasons.append(OVERLAP_TEXT)
        else:
            reasons.append(OVERLAP_NEAR_DUP if int(component) in train_components else None)
    return pl.Series("overlap", reasons, dtype=pl.String)
