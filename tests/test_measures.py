from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from curation.rows import frame, row
from pydantic import ValidationError
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from alttrain.errors import ConfigError
from alttrain.measures import TOKEN_COLUMNS, TokenizerConfig, make_counter, with_token_counts


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny, word-level) Hugging Face tokenizer saved on disk: every word is one token."""
    vocab = {"[UNK]": 0, "apples": 1, "two": 2, "three": 3}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path_factory.mktemp("tok")
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]").save_pretrained(path)
    return path


def test_regex_counter_counts_words_and_punctuation() -> None:
    texts = pl.DataFrame({"text": ["Two apples, three pears.", "", None]})
    assert texts.select(make_counter(TokenizerConfig()).count("text")).to_series().to_list() == [6, 0, None]


def test_hf_counter_loads_a_local_tokenizer_and_keeps_nulls(tokenizer_dir: Path) -> None:
    counter = make_counter(TokenizerConfig(kind="hf", path=tokenizer_dir, batch_size=2))
    texts = pl.DataFrame({"text": ["two apples", None, "three unknown words here", ""]})
    assert texts.select(counter.count("text")).to_series().to_list() == [2, None, 4, 0]


def test_token_columns_are_added_once() -> None:
    data = frame([row("q")])
    counted = with_token_counts(data, make_counter(TokenizerConfig()))
    assert set(TOKEN_COLUMNS) <= set(counted.columns)
    assert with_token_counts(counted, make_counter(TokenizerConfig(pattern="."))) is counted


def test_bad_tokenizer_settings_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="needs tokenizer.path"):
        TokenizerConfig(kind="hf")
    with pytest.raises(ConfigError, match="not found"):
        make_counter(TokenizerConfig(kind="hf", path=tmp_path / "missing"))
    with pytest.raises(ConfigError, match="cannot load a tokenizer"):
        make_counter(TokenizerConfig(kind="hf", path=tmp_path))


def test_regex_counter_counts_each_cjk_character_as_a_token() -> None:
    texts = pl.DataFrame({"text": ["抱歉，我无法提供这类信息。", "GPT模型 works", "カタカナ と 한국어"]})
    counts = texts.select(make_counter(TokenizerConfig()).count("text")).to_series().to_list()
    assert counts == [13, 4, 6]  # Hangul is spaced: a word is a run, as in English
