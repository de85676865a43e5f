r"""Measures every stage shares: token counts, the benign-answer check and the rewrite's length reduction.

Curation filters on them, evaluation scores model outputs with them and the datasheet reports them, so
one definition serves all three.

**Answers.** A benign answer must match its ``reference_answer`` where one exists. Rows from a
``reasoning_gym/<task>`` source are scored by that task's own verifier
(``reasoning_gym.get_score_answer_fn(task)``, called with ``{"question", "answer", "metadata": {}}``)
and count as correct at ``min_score`` or more (a call costs ~1-3 us, so every such row is scored). Every
other row, and a reasoning-gym row whose task is unknown or whose verifier raises, is checked in polars:
a numeric reference must equal the last number in the answer (thousands commas ignored); any other
reference must occur in the answer (case-folded, whitespace collapsed). Harmful rows and rows without a
reference are not checked (``answer_correct`` stays null).

**Length reduction.** ``length_reduction`` is the original reasoning's tokens over the tokens of the
three new phases (understanding + assessment + reasoning), on rows synthesized in ``rewrite`` mode
that carry ``original_reasoning``; the paper reports 2-10x.

**Tokens.** Trace phases are counted by a fast regex by default, or by a Hugging Face tokenizer from disk.

The default tokenizer counts words and punctuation marks with one vectorised polars expression; on
English prose it runs close to a BPE token count (a BPE tokenizer splits rare words, the regex does not)
and costs nothing to load. Chinese and Japanese are written without spaces, so there each CJK character
(:data:`CJK_CHARS`: Han ideographs and kana) is one token, as a BPE tokenizer roughly counts them (a
Chinese sentence would otherwise be a handful of "words"); every other word is a run of word characters,
so counts of text without CJK characters are the same as ``\w+|[^\w\s]`` gives. ``kind: hf`` loads a
tokenizer saved on disk (``tokenizer.json`` etc.; nothing is downloaded) and counts its ids without special
tokens.

Counters hand out expressions, not counted series, so that the counts of every column run in one
pass on every core (:func:`alttrain.records.with_columns_on_all_cores`); a ``Series`` string method
runs on one thread.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Literal, Protocol

import polars as pl
from pydantic import BaseModel, ConfigDict, PositiveInt, model_validator

from alttrain.errors import ConfigError
from alttrain.records import with_columns_on_all_cores

#: the characters of unspaced scripts, one token each: kana, CJK extension A, unified ideographs, compatibility
#: ideographs (literal characters, so Python's ``re`` and polars' regex read the class alike)
CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
#: one CJK character, or a run of other word characters (what a word is in every text measure)
WORD_PATTERN = f"[{CJK_CHARS}]|[^\\W{CJK_CHARS}]+"
DEFAULT_TOKEN_PATTERN = WORD_PATTERN + r"|[^\w\s]"
PHASES: tuple[str, ...] = ("understanding", "assessment", "reasoning", "answer")
THINK_PHASES: tuple[str, ...] = ("understanding", "assessment", "reasoning")  # inside the think block
TOKEN_COLUMNS: tuple[str, ...] = tuple(f"tokens_{phase}" for phase in PHASES) + ("tokens_total",)


class TokenizerConfig(BaseModel):
    """How tokens are counted: ``regex`` (default, vectorised) or ``hf`` (a local tokenizer directory)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["regex", "hf"] = "regex"
    pattern: str = DEFAULT_TOKEN_PATTERN
    path: Path | None = None
    batch_size: PositiveInt = 4096

    @model_validator(mode="after")
    def _path_for_hf(self) -> TokenizerConfig:
        if self.kind == "hf" and self.path is None:
            raise ValueError("tokenizer.kind 'hf' needs tokenizer.path (a local tokenizer directory)")
        return self


class TokenCounter(Protocol):
    """Counts tokens of every string in a column (null stays null)."""

    def count(self, column: str) -> pl.Expr:
        """An Int64 expression: the token count of each text in ``column``."""
        ...


class RegexCounter:
    """Counts regex matches, vectorised in polars."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def count(self, column: str) -> pl.Expr:
        """Number of matches of the pattern in each text."""
        return pl.col(column).str.count_matches(self.pattern).cast(pl.Int64)


class HFCounter:
    """Counts ids of a Hugging Face tokenizer loaded from a local directory, in batches."""

    def __init__(self, path: Path, batch_size: int) -> None:
        from transformers import AutoTokenizer

        if not path.exists():
            raise ConfigError(f"tokenizer path {path} not found (tokenizer.path)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as error:
            raise ConfigError(f"tokenizer path {path}: cannot load a tokenizer ({error})") from error
        self.batch_size = batch_size

    def count(self, column: str) -> pl.Expr:
        """Length of each text's ids without special tokens (the tokenizer runs in batches, in Python)."""
        return pl.col(column).map_batches(self._count, return_dtype=pl.Int64)

    def _count(self, texts: pl.Series) -> pl.Series:
        values = texts.to_list()
        present = [value for value in values if value is not None]
        lengths: list[int] = []
        for start in range(0, len(present), self.batch_size):
            batch = present[start : start + self.batch_size]
            ids = self.tokenizer(batch, add_special_tokens=False, return_attention_mask=False)["input_ids"]
            lengths += [len(row) for row in ids]
        found = iter(lengths)
        return pl.Series(texts.name, [None if v is None else next(found) for v in values], dtype=pl.Int64)


@cache
def make_counter(config: TokenizerConfig) -> TokenCounter:
    """The counter for a config (loaded once per process)."""
    if config.kind == "hf":
        assert config.path is not None  # checked by the config
        return HFCounter(config.path, config.batch_size)
    return RegexCounter(config.pattern)


def with_token_counts(frame: pl.DataFrame, counter: TokenCounter) -> pl.DataFrame:
    """Add ``tokens_<phase>`` and ``tokens_total`` (the whole trace) unless every row already has them."""
    if all(c in frame.columns for c in TOKEN_COLUMNS) and not frame.select(
        pl.any_horizontal(pl.col(TOKEN_COLUMNS).is_null()).any()
    ).item():
        return frame
    sources = {f"tokens_{phase}": phase for phase in PHASES} | {"tokens_total": "trace"}
    counts = [counter.count(source).alias(column) for column, source in sources.items()]
    return with_columns_on_all_cores(frame, *counts)


REASONING_GYM_PREFIX = "reasoning_gym/"
NUMBER = r"-?\d+(?:\.\d+)?"


@cache
def _verifier(task: str) -> Callable[[str | None, dict], float] | None:
    """The task's score function, or None when reasoning-gym does not know the task."""
    import reasoning_gym

    try:
        return reasoning_gym.get_score_answer_fn(task)
    except ValueError:
        return None


def _gym_scores(rows: pl.DataFrame) -> pl.Series:
    """Score (source, prompt, answer, reference) rows with their task's verifier; null where it cannot."""
    scores: list[float | None] = []
    for source, prompt, answer, reference in rows.iter_rows():
        verify = _verifier(source.removeprefix(REASONING_GYM_PREFIX))
        try:
            entry = {"question": prompt, "answer": reference, "metadata": {}}
            scores.append(float(verify(answer, entry)) if verify else None)
        except Exception:  # noqa: BLE001 - a verifier that cannot score falls back to the generic check
            scores.append(None)
    return pl.Series("_gym_score", scores, dtype=pl.Float64)


def _generic_correct() -> tuple[pl.Expr, pl.Expr]:
    """(correct, method) by the numeric-or-text rule in polars."""
    reference = pl.col("reference_answer").str.strip_chars().str.replace_all(",", "", literal=True)
    numeric_reference = reference.cast(pl.Float64, strict=False)
    last_number = (
        pl.col("answer").str.replace_all(r"(\d),(\d)", "$1$2").str.extract_all(NUMBER).list.last()
        .cast(pl.Float64, strict=False)
    )

    def folded(expr: pl.Expr) -> pl.Expr:  # whitespace runs (not lone spaces, most of them) become one space
        return expr.str.to_lowercase().str.replace_all(r"\s{2,}|[\s&&[^ ]]", " ").str.strip_chars()

    text_match = folded(pl.col("answer")).str.contains(folded(pl.col("reference_answer")), literal=True)
    is_numeric = numeric_reference.is_not_null()
    correct = pl.when(is_numeric).then(last_number.eq_missing(numeric_reference)).otherwise(text_match)
    return correct, pl.when(is_numeric).then(pl.lit("numeric")).otherwise(pl.lit("text"))


def check_answers(frame: pl.DataFrame, min_score: float = 1.0) -> pl.DataFrame:
    """Add ``answer_correct`` and ``answer_check`` (how it was checked); null where nothing is checked.

    Needs ``label``, ``source``, ``prompt``, ``answer`` and ``reference_answer``; a reasoning-gym row
    counts as correct at a verifier score of ``min_score`` or more.
    """
    checked = (pl.col("label") == "benign") & pl.col("reference_answer").is_not_null()
    gym = checked & pl.col("source").str.starts_with(REASONING_GYM_PREFIX)
    positions = frame.select(gym.fill_null(False).arg_true()).to_series()
    gym_rows = frame.select("source", "prompt", "answer", "reference_answer")[positions]
    unscored = pl.repeat(None, frame.height, dtype=pl.Float64, eager=True).alias("_gym_score")
    frame = frame.with_columns(unscored.scatter(positions, _gym_scores(gym_rows)))
    generic, method = _generic_correct()
    by_gym = pl.col("_gym_score").is_not_null()
    return with_columns_on_all_cores(
        frame,
        pl.when(~checked).then(None)
        .when(by_gym).then(pl.col("_gym_score") >= min_score)
        .otherwise(generic.fill_null(False)).alias("answer_correct"),
        pl.when(~checked).then(None)
        .when(by_gym).then(pl.lit("reasoning_gym:") + pl.col("source").str.strip_prefix(REASONING_GYM_PREFIX))
        .otherwise(method).alias("answer_check"),
    ).drop("_gym_score")


def with_length_reduction(frame: pl.DataFrame, counter: TokenCounter) -> pl.DataFrame:
    """Add token counts, ``original_tokens`` and ``length_reduction`` (null outside rewrite mode)."""
    frame = with_token_counts(frame, counter)
    rewritten = (pl.col("mode") == "rewrite") & pl.col("original_reasoning").is_not_null()
    original = counter.count("original_reasoning")
    frame = with_columns_on_all_cores(frame, pl.when(rewritten).then(original).otherwise(None).alias("original_tokens"))
    phases = pl.sum_horizontal(pl.col(f"tokens_{p}") for p in THINK_PHASES)
    reduction = pl.col("original_tokens").cast(pl.Float64) / pl.when(phases > 0).then(phases).otherwise(None)
    return frame.with_columns(reduction.alias("length_reduction"))
