"""One record schema per stage file, checked whenever a stage reads or writes one.

Each stage of a run reads the previous stage's parquet file and writes its own (see README). A file
whose columns or dtypes do not match its stage's schema is an error naming the file and the column.
"""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import polars as pl

from alttrain.errors import MissingInputError, SchemaError

Schema = dict[str, pl.DataType]

PROMPT_SCHEMA: Schema = {
    "id": pl.String(),
    "prompt": pl.String(),
    "label": pl.String(),
    "category": pl.String(),
    "source": pl.String(),
    "license": pl.String(),
    "original_reasoning": pl.String(),
    "original_answer": pl.String(),
    "reference_answer": pl.String(),
    "categories": pl.List(pl.String()),  # every category the source lists (null: the source gives one)
    "source_score": pl.Float64(),  # the source's own quality score of the row (the lowest where it gives several)
    "request": pl.String(),  # the plain request a wrapped prompt carries, as the source gives it (null: none given)
    # ISO 639-1 of the prompt, which picks its structure markers (alttrain.languages; null in prompts: detected;
    # synthesis writes the resolved one; curation's language filter sets it to the detected language of prompt + answer)
    "language": pl.String(),
}

SYNTHESIZED_SCHEMA: Schema = {
    **PROMPT_SCHEMA,
    "status": pl.String(),  # ok | quarantined
    "policy_category": pl.String(),  # the safety policy's category of the row (alttrain.policy)
    "policy_mode": pl.String(),  # its response mode: refuse | safe_complete | comply
    "reason": pl.String(),  # why quarantined; null when ok
    "mode": pl.String(),  # rewrite | generate
    "teacher": pl.String(),  # backend:model
    "template_version": pl.String(),
    "understanding": pl.String(),
    "assessment": pl.String(),
    "verdict": pl.String(),
    "reasoning": pl.String(),
    "answer": pl.String(),
    "trace": pl.String(),  # the rendered structure, as the model is trained on it
    "raw_completion": pl.String(),
    "reasoning_content": pl.String(),  # a reasoning model's separate reasoning channel, when it has one
    "prompt_tokens": pl.Int64(),
    "completion_tokens": pl.Int64(),
    "attempts": pl.Int64(),
}

# Columns that synthesized rows add in modes self and restyle (alttrain.synthesis.own), where the model makes
# several samples per prompt
SAMPLE_COLUMNS: Schema = {
    "samples": pl.String(),  # JSON list: per sample its index, seed, outcome (selected|valid|invalid|error), reason
}

# Columns that curation adds (see alttrain.curation); metrics are null for rows dropped before the step
# that measures them, and ``filter_reason`` is null exactly in curated.parquet.
CURATION_COLUMNS: Schema = {
    "filter_reason": pl.String(),  # first reason the row was dropped (rejected.parquet only)
    "cluster_id": pl.String(),  # prompt cluster (exact + near duplicates): the smallest id in it
    "score": pl.Float64(),  # 0-10 quality used to rank: judge_score when present, else the heuristic
    "score_source": pl.String(),  # judge | heuristic
    "tokens_understanding": pl.Int64(),
    "tokens_assessment": pl.Int64(),
    "tokens_reasoning": pl.Int64(),
    "tokens_answer": pl.Int64(),
    "tokens_total": pl.Int64(),  # the whole rendered trace
    "original_tokens": pl.Int64(),  # the original reasoning (rewrite mode)
    "length_reduction": pl.Float64(),  # original_tokens / tokens of the three phases (rewrite mode)
    "refused": pl.Boolean(),  # the answer refuses (judge when present, else the heuristic)
    "answer_correct": pl.Boolean(),  # benign answer checked against reference_answer
    "answer_check": pl.String(),  # how: reasoning_gym:<task> | numeric | text
    "judge_structure": pl.Float64(),
    "judge_assessment": pl.Float64(),
    "judge_helpfulness": pl.Float64(),
    "judge_score": pl.Float64(),
    "judge_refused": pl.Boolean(),
    "judge_error": pl.String(),  # why the judge score is missing
}

CURATED_SCHEMA: Schema = {**SYNTHESIZED_SCHEMA, **CURATION_COLUMNS}

STAGE_SCHEMAS: dict[str, Schema] = {
    "prompts": PROMPT_SCHEMA,
    "synthesized": SYNTHESIZED_SCHEMA,
    "curated": CURATED_SCHEMA,
    "rejected": CURATED_SCHEMA,
}

STATUS_OK = "ok"
STATUS_QUARANTINED = "quarantined"


def normalise_text(text: str) -> str:
    """Normalise text for identity: NFKC, collapsed whitespace, case-folded."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def record_id(source: str, prompt: str) -> str:
    """A stable id for a prompt from one source: 16 hex chars of sha256(source, normalised prompt)."""
    digest = hashlib.sha256(f"{source}\x00{normalise_text(prompt)}".encode())
    return digest.hexdigest()[:16]


def with_columns_on_all_cores(frame: pl.DataFrame, *columns: pl.Expr) -> pl.DataFrame:
    """``frame.with_columns(*columns)`` for row-wise expressions, run by polars' streaming engine.

    The in-memory engine runs a string expression on a one-chunk column on one thread; the streaming
    engine cuts the rows into morsels for every core (``bench/curation.py`` measures the difference).
    Only for row-wise expressions (no windows or aggregations).
    """
    return frame.lazy().with_columns(*columns).collect(engine="streaming")


def check_schema(frame: pl.DataFrame, stage: str, where: str) -> None:
    """Raise :class:`SchemaError` naming ``where`` and the column when ``frame`` misses its stage schema.

    Extra columns are allowed (later stages add their own); missing ones and wrong dtypes are not.
    """
    schema = STAGE_SCHEMAS[stage]
    for column, dtype in schema.items():
        if column not in frame.columns:
            raise SchemaError(f"{where}: missing column {column!r} (stage {stage!r} expects {list(schema)})")
        actual = frame.schema[column]
        if actual != dtype and actual != pl.Null():
            raise SchemaError(f"{where}: column {column!r} has dtype {actual}, expected {dtype}")


def conform(frame: pl.DataFrame, stage: str) -> pl.DataFrame:
    """Add the stage's missing optional columns as nulls and order the schema columns first."""
    schema = STAGE_SCHEMAS[stage]
    missing = [pl.lit(None, dtype=dtype).alias(c) for c, dtype in schema.items() if c not in frame.columns]
    frame = frame.with_columns(missing) if missing else frame
    frame = frame.with_columns([pl.col(c).cast(dtype) for c, dtype in schema.items()])
    extra = [c for c in frame.columns if c not in schema]
    return frame.select([*schema, *extra])


def read_stage(path: Path, stage: str) -> pl.DataFrame:
    """Read a stage file and check its schema.

    Raises:
        MissingInputError: naming the file and the stage that writes it.
        SchemaError: naming the file and the offending column, or a file that is not parquet.

    """
    if not path.exists():
        raise MissingInputError(f"{path}: not found (run the {stage!r} stage first)")
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SchemaError(f"{path}: not a readable parquet file ({first_line})") from None
    check_schema(frame, stage, str(path))
    return frame.with_columns([pl.col(c).cast(t) for c, t in STAGE_SCHEMAS[stage].items()])


def write_stage(frame: pl.DataFrame, path: Path, stage: str, metadata: dict[str, str] | None = None) -> None:
    """Check ``frame`` against its stage schema and write it atomically as parquet (with key-value ``metadata``).

    zstd at level 1, not polars' default 3: on large curation frames it writes markedly faster for a
    slightly larger file that reads as fast (figures in the README's bench section).
    """
    check_schema(frame, stage, f"{stage} output")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.write_parquet(tmp, compression="zstd", compression_level=1, metadata=metadata)
    tmp.replace(path)
