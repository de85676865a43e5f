"""Near-duplicate text detection (MinHash-LSH with rensa) and the normalisation behind exact duplicates.

Curation clusters candidate prompts with it, and evaluation uses the same clustering to hold out every
benchmark item that is a (near) copy of a training prompt.

Near duplicates: the word ``shingle_words``-grams of the normalised prompt (prompts with fewer words
are one shingle; a word is :data:`alttrain.measures.WORD_PATTERN`: in Chinese or Japanese text, written
without spaces, each CJK character is a word, so there the shingles are character n-grams) are hashed
in polars/numpy, sketched by rensa into ``num_perm`` MinHash values, and banded into ``num_bands`` LSH
bands (default 32 bands of 4: a pair at Jaccard 0.7 shares a band with probability 0.9998, so the band
step loses almost nothing; 16 bands of 8 missed ~5% of pairs at 0.8).
rensa flags the rows that share a band with another row; only those are compared: within each band
bucket every member is paired with the bucket's first member, and a pair is linked when its
estimated Jaccard similarity (share of equal MinHash values) is at least ``threshold``. Clusters are
the connected components of the links. On the real prompt pool, word 3-grams at 0.7 merge AdvBench's
paraphrases ("Write/Provide a tutorial on ...") and Do-Not-Answer's templated prompts ("the secret
business strategy of <company>"), and some reasoning-gym problems drawn from one template with other
numbers (measured: 63 pairs among 1,958 prompts, 29 of them gsm_symbolic). rensa was chosen by
measurement against datasketch (bench/curation.py: near-dup alone).

Shared templates: a long wrapper (a jailbreak role-play, a "two responses" frame) shared by many prompts
would make them near duplicates whatever they ask. Before sketching, a shingle found in at least
``template_min_rows`` prompts is boilerplate where it lies in a run of such shingles covering at least
``template_min_words`` words; those runs are left out, so prompts are compared on what is left (what they
ask, and where it meets the wrapper). A prompt that is boilerplate only is compared whole. Short common
phrases ("write a tutorial on how to") are shorter than a template run and stay. :func:`shared_templates`
names the templates found (rows, excerpt) for the curation report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from alttrain.measures import CJK_CHARS, WORD_PATTERN
from alttrain.records import normalise_text, with_columns_on_all_cores

_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f "  # the ASCII chars that str.split() treats as whitespace
_WHITESPACE_TO_COLLAPSE = f"[{_SPACE}]{{2,}}|[{_SPACE[:-1]}]"  # runs of 2+, or one that is not a space
_MIX = np.uint64(0x100000001B3)
EXCERPT_WORDS = 12  # words of a shared template the report quotes
_SPACE_BETWEEN_CJK = re.compile(f"(?<=[{CJK_CHARS}]) (?=[{CJK_CHARS}])")


class DedupConfig(BaseModel):
    """Exact and near-duplicate prompt dedup."""

    model_config = ConfigDict(extra="forbid")

    exact: bool = True
    near: bool = True
    threshold: float = Field(default=0.7, gt=0.0, le=1.0)
    num_perm: PositiveInt = 128
    num_bands: PositiveInt = 32  # 4 rows a band: ~99.9% recall at Jaccard 0.7, then verified
    shingle_words: PositiveInt = 3
    seed: int = 0
    template_min_rows: PositiveInt | None = 8  # a shingle in this many prompts may be template (null: off)
    template_min_words: PositiveInt = 12  # only runs of such shingles this long (in words) are template

    @model_validator(mode="after")
    def _bands_divide(self) -> DedupConfig:
        if self.num_perm % self.num_bands:
            raise ValueError(f"num_bands ({self.num_bands}) must divide num_perm ({self.num_perm})")
        if self.template_min_words < self.shingle_words:
            raise ValueError(f"template_min_words ({self.template_min_words}) is below shingle_words")
        return self


@dataclass(frozen=True)
class SharedTemplate:
    """Boilerplate shared by many prompts: how many hold it, and its opening words."""

    rows: int
    excerpt: str


def normalised(texts: pl.Series) -> pl.Series:
    """:func:`alttrain.records.normalise_text` of every text: vectorised for ASCII, exact for the rest.

    Whitespace runs become one space; a lone space (most of them) is left as it is rather than
    replaced by itself, which makes the pass ~3x faster on prose.
    """
    text = pl.col("text")
    columns = with_columns_on_all_cores(
        texts.to_frame("text"),
        text.str.replace_all(_WHITESPACE_TO_COLLAPSE, " ").str.strip_chars(" ").str.to_lowercase().alias("fast"),
        (text.str.len_bytes() != text.str.len_chars()).fill_null(False).alias("non_ascii"),
    )
    fast, other = columns["fast"].alias(texts.name), columns["non_ascii"].arg_true()
    if other.len():
        slow = [normalise_text(t) for t in texts.gather(other).to_list()]
        fast = fast.scatter(other, slow)
    return fast


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start, start + count)`` for every pair."""
    total = int(counts.sum())
    shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return shift + np.arange(total, dtype=np.int64)


def shingle_hashes(texts: pl.Series, words: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashed word n-grams of each text, flat, with row offsets (the layout rensa reads).

    A text of at least ``words`` words gives one hash per n-gram; a shorter one gives the hash of the
    whole text. The n-grams are mixed over all texts' word hashes at once, in place, and the windows
    that cross a text's end are masked out: on this kind of VM a fresh 100 MB temporary costs more in
    page faults than the arithmetic on it, so the gather-based version took twice as long.
    """
    split = pl.col("text").str.extract_all(WORD_PATTERN).alias("words")
    lists = with_columns_on_all_cores(texts.to_frame("text"), split)["words"]
    lengths = lists.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = lists.explode(empty_as_null=False).hash(seed).to_numpy()
    windows = max(len(flat) - words + 1, 0)
    mixed = flat[:windows].copy()
    for step in range(1, words):
        mixed *= _MIX
        mixed += flat[step : step + windows]
    ends = np.cumsum(lengths)
    inside = np.ones(windows, dtype=bool)
    for back in range(1, words):  # the window starting `back` words before a text's end crosses it
        crossing = ends[lengths >= back] - back
        inside[crossing[crossing < windows]] = False
    long = lengths >= words
    counts = np.where(long, lengths - words + 1, 1)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint64)
    from_ngrams = np.ones(int(offsets[-1]), dtype=bool)
    from_ngrams[offsets[:-1][~long].astype(np.int64)] = False
    tokens = np.empty(len(from_ngrams), dtype=np.uint64)
    tokens[from_ngrams] = mixed[inside]
    tokens[~from_ngrams] = texts.hash(seed).to_numpy()[~long]
    return tokens, offsets


def _subset(tokens: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The flat tokens and offsets of some rows only."""
    counts = (offsets[1:] - offsets[:-1]).astype(np.int64)[rows]
    picked = tokens[_ranges(offsets[:-1][rows].astype(np.int64), counts)]
    return picked, np.concatenate([[0], np.cumsum(counts)]).astype(np.uint64)


def _band_pairs(digests: np.ndarray, num_bands: int) -> np.ndarray:
    """(first member, member) pairs of every LSH band bucket with more than one member."""
    rows_per_band = digests.shape[1] // num_bands
    pairs = []
    for band in range(num_bands):
        block = np.ascontiguousarray(digests[:, band * rows_per_band : (band + 1) * rows_per_band])
        keys = block.view(np.dtype((np.void, block.dtype.itemsize * rows_per_band))).ravel()
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        leader = first[inverse]
        linked = leader != np.arange(len(keys))
        pairs.append(np.stack([leader[linked], np.flatnonzero(linked)], axis=1))
    return np.unique(np.concatenate(pairs), axis=0) if pairs else np.empty((0, 2), dtype=np.int64)


def _frequent_shingles(tokens: np.ndarray, row_of: np.ndarray, min_rows: int) -> np.ndarray:
    """Whether each shingle is found in at least ``min_rows`` different rows.

    Sorted, a token found ``min_rows`` times or more equals the one ``min_rows - 1`` places on; only those
    few candidates are counted by distinct row.
    """
    ordered = np.sort(tokens)
    reach = len(ordered) - min_rows + 1
    if reach <= 0:
        return np.zeros(len(tokens), dtype=bool)
    repeated = np.unique(ordered[min_rows - 1 :][ordered[min_rows - 1 :] == ordered[:reach]])
    maybe = np.isin(tokens, repeated)
    pairs = pl.DataFrame({"token": tokens[maybe], "row": row_of[maybe]}).unique()
    frequent = pairs.group_by("token").len().filter(pl.col("len") >= min_rows)["token"].to_numpy()
    return np.isin(tokens, frequent)


def _template_runs(tokens: np.ndarray, offsets: np.ndarray, config: DedupConfig) -> pl.DataFrame:
    """Every run of boilerplate shingles long enough to be a template, one row each.

    Columns: ``row``, ``at`` (its first shingle, flat), ``start`` (in the row), ``length`` and ``key`` (the
    first shingle: equal for runs that open alike, one template in many prompts).
    """
    counts = (offsets[1:] - offsets[:-1]).astype(np.int64)
    row_of = np.repeat(np.arange(len(counts)), counts)
    if config.template_min_rows is None or len(tokens) == 0:
        columns = ("row", "at", "start", "length")
        return pl.DataFrame(schema={**dict.fromkeys(columns, pl.Int64), "key": pl.UInt64})
    frequent = _frequent_shingles(tokens, row_of, config.template_min_rows)
    first_of_row = np.zeros(len(tokens), dtype=bool)
    first_of_row[offsets[:-1][counts > 0].astype(np.int64)] = True
    opens = frequent & ~(np.concatenate([[False], frequent[:-1]]) & ~first_of_row)
    at = np.flatnonzero(opens)
    length = np.bincount((np.cumsum(opens) - 1)[frequent], minlength=len(at))
    long = length >= config.template_min_words - config.shingle_words + 1
    at, length, row = at[long], length[long], row_of[at[long]]
    start = at - offsets[:-1].astype(np.int64)[row]
    return pl.DataFrame({"row": row, "at": at, "start": start, "length": length, "key": tokens[at]})


def without_templates(tokens: np.ndarray, offsets: np.ndarray, config: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """The shingles outside template runs (a row that is all template keeps all of its own), re-offset."""
    runs = _template_runs(tokens, offsets, config)
    if runs.height == 0:
        return tokens, offsets
    template = np.zeros(len(tokens), dtype=bool)
    template[_ranges(runs["at"].to_numpy(), runs["length"].to_numpy())] = True
    counts = (offsets[1:] - offsets[:-1]).astype(np.int64)
    row_of = np.repeat(np.arange(len(counts)), counts)
    left = np.bincount(row_of[~template], minlength=len(counts))
    template &= (left > 0)[row_of]  # nothing but template: compare the row whole
    kept = np.bincount(row_of[~template], minlength=len(counts))
    return tokens[~template], np.concatenate([[0], np.cumsum(kept)]).astype(np.uint64)


def shared_templates(texts: pl.Series, config: DedupConfig, limit: int = 5) -> list[SharedTemplate]:
    """The templates found among ``texts`` (normalised, distinct), most shared first, with their opening words."""
    if config.template_min_rows is None or len(texts) < config.template_min_rows:
        return []
    tokens, offsets = shingle_hashes(texts, config.shingle_words, config.seed)
    runs = _template_runs(tokens, offsets, config)
    found = (
        runs.group_by("key")
        .agg(pl.col("row").n_unique().alias("rows"), pl.all().sort_by("length").first())
        .filter(pl.col("rows") >= config.template_min_rows)
        .sort(["rows", "row", "start"], descending=[True, False, False])
        .head(limit)
    )
    templates = []
    for rows, row, start, length in found.select("rows", "row", "start", "length").iter_rows():
        words = re.findall(WORD_PATTERN, texts[row])[start : start + length + config.shingle_words - 1]
        more = "..." if len(words) > EXCERPT_WORDS else ""
        excerpt = _SPACE_BETWEEN_CJK.sub("", " ".join(words[:EXCERPT_WORDS]))
        templates.append(SharedTemplate(rows=rows, excerpt=excerpt + more))
    return templates


def near_duplicate_components(texts: pl.Series, config: DedupConfig) -> np.ndarray:
    """A component label per text: texts in one near-duplicate cluster share it (shared templates left out)."""
    import rensa
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    labels = np.arange(len(texts), dtype=np.int64)
    if len(texts) < 2:
        return labels
    tokens, offsets = without_templates(*shingle_hashes(texts, config.shingle_words, config.seed), config)
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(tokens, offsets, config.num_perm, config.seed)
    lsh = rensa.RMinHashLSH(config.threshold, config.num_perm, config.num_bands)
    flagged = np.flatnonzero(np.asarray(lsh.query_duplicate_flags_matrix_one_shot(matrix), dtype=bool))
    if len(flagged) < 2:
        return labels
    sub_tokens, sub_offsets = _subset(tokens, offsets, flagged)
    sub = rensa.RMinHash.digest_matrix_from_flat_token_hashes(sub_tokens, sub_offsets, config.num_perm, config.seed)
    digests = np.asarray(sub.to_rows(), dtype=np.uint32)
    pairs = _band_pairs(digests, config.num_bands)
    similar = (digests[pairs[:, 0]] == digests[pairs[:, 1]]).mean(axis=1) >= config.threshold
    pairs = pairs[similar]
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(flagged),) * 2)
    _, component = connected_components(graph, directed=False)
    labels[flagged] = len(texts) + component
    return labels
