"""The column mapping every table source shares (``kind: file`` and ``kind: hub``), and the think-tag split.

A mapped source reads a raw table (:meth:`MappedSource.read_raw`), then maps it into the prompts schema:
``columns`` names which raw column feeds which schema field, a preset (:mod:`alttrain.sources.presets`)
fills what the config leaves out, and a ``response`` column in R1 style (``<think>reasoning</think>answer``)
is split into ``original_reasoning`` and ``original_answer``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from pydantic import Field, field_validator, model_validator

from alttrain.errors import SourceError
from alttrain.prompt_sets.base import LoadReport, PromptSource, TraceCounts, prompt_frame
from alttrain.sources.presets import PRESETS, Label, Preset, PresetName
from alttrain.structure import LABELS

TARGETS = (
    "prompt",
    "label",
    "category",
    "original_reasoning",
    "original_answer",
    "reference_answer",
    "response",
    "source_score",
    "request",
    "language",
)
TRACE_TARGETS = frozenset({"original_reasoning", "original_answer"})

# kinds of response, as TraceCounts counts them
SPLIT, EMPTY_THINK, NO_TAGS, UNCLOSED, EMPTY = "split", "empty_think", "no_tags", "unclosed", "empty"


def split_think(
    text: str | None, open_tag: str = "<think>", close_tag: str = "</think>", empty: frozenset[str] = frozenset()
) -> tuple[str, str | None, str | None]:
    """Split an R1-style response into ``(kind, reasoning, answer)``, both parts stripped, empty ones null.

    - ``<think>r</think>a`` -> ``split`` (``empty_think`` when ``r`` is blank). A closing tag without an
      opening one (``r</think>a``: DeepSeek's later template puts ``<think>`` in the prompt, and SafeChain's
      responses are stored so) splits the same way. Text before the opening tag is dropped.
    - no tags -> ``no_tags``: the whole text is the answer, the reasoning is null.
    - ``<think>r`` with no closing tag -> ``unclosed``: the reasoning is ``r``, the answer is null.
    - null, blank, or one of ``empty`` -> ``empty``: both null.
    """
    if text is None or not text.strip() or text.strip() in empty:
        return EMPTY, None, None
    start = text.find(open_tag)
    if start >= 0:
        inner_start = start + len(open_tag)
        end = text.find(close_tag, inner_start)
        if end < 0:
            return UNCLOSED, text[inner_start:].strip() or None, None
    else:
        end = text.find(close_tag)
        if end < 0:
            return NO_TAGS, None, text.strip()
        inner_start = 0
    reasoning = text[inner_start:end].strip() or None
    answer = text[end + len(close_tag) :].strip() or None
    return (SPLIT if reasoning else EMPTY_THINK), reasoning, answer


def _is_text(dtype: pl.DataType) -> bool:
    """Whether a column of ``dtype`` reads as text: text, numbers, booleans (or nulls only)."""
    return dtype == pl.String or dtype == pl.Null or dtype == pl.Boolean or dtype.is_numeric()


def _score(raw: pl.DataFrame, column: str, named: str) -> pl.Expr:
    """``column`` as one Float64 score: a number, a text holding one, or the lowest of an object's numbers."""
    dtype = raw.schema[column]
    if isinstance(dtype, pl.Struct):
        fields = {f.name: f.dtype for f in dtype.fields}
        bad = sorted(name for name, inner in fields.items() if not (inner.is_numeric() or inner == pl.Null))
        if bad or not fields:
            raise SourceError(f"{named} holds objects whose fields {bad or '(none)'} are not numbers; map a score")
        return pl.min_horizontal(pl.col(column).struct.field(name).cast(pl.Float64) for name in fields)
    if dtype.is_numeric() or dtype == pl.Null:
        return pl.col(column).cast(pl.Float64)
    if dtype == pl.String:
        text = pl.col(column).str.strip_chars().replace("", None)
        numbers = raw.select(text.cast(pl.Float64, strict=False).alias("number"), text.alias("text"))
        bad_rows = (numbers["number"].is_null() & numbers["text"].is_not_null()).arg_true()
        if bad_rows.len():
            row = int(bad_rows[0])
            raise SourceError(f"{named}: row {row + 1} holds {raw[column][row]!r}, not a number")
        return text.cast(pl.Float64)
    raise SourceError(f"{named} holds {dtype} values, not numbers (or an object of numbers)")


@dataclass
class _Plan:
    """The resolved mapping: raw column per target, and how labels and categories are given."""

    columns: dict[str, str]
    fixed_label: Label | None = None
    label_values: dict[str, Label] = field(default_factory=dict)
    fixed_category: str | None = None
    empty_responses: frozenset[str] = frozenset()
    label_by_default: bool = False  # the label column is the default "label": no setting and no preset rule


class MappedSource(PromptSource):
    """A table with a column mapping (see :mod:`alttrain.sources.presets` for the presets).

    ``columns`` maps schema names (``prompt``, ``label``, ``category``, ``original_reasoning``,
    ``original_answer``, ``reference_answer``, or ``response`` for an R1-style text to split at
    ``think_tags``, ``source_score``, and ``request``: the plain request a wrapped prompt carries, such as
    WildJailbreak's ``vanilla`` beside its ``adversarial`` prompt; a row without a prompt is then asked as its
    request; ``language``: the row's ISO 639-1 code, else detected, :mod:`alttrain.languages`) to the table's
    column names. Text fields
    take text (numbers and booleans are written as text); ``category`` may be a list (the first entry is
    the category, the whole list goes to ``categories``); ``source_score`` takes a number or an object of
    numbers (the lowest counts). A column of another shape is a :class:`SourceError` naming it. ``label``
    may instead be fixed for the whole table, and ``label_values`` maps the label column's values
    (``true``, ``unsafe``, ...) to harmful|benign.
    """

    source_name: str | None = None
    preset: PresetName | None = None
    license: str | None = None
    label: Label | None = None
    label_values: dict[str, Label] = Field(default_factory=dict)
    category: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    think_tags: tuple[str, str] = ("<think>", "</think>")
    empty_responses: list[str] | None = None

    @field_validator("label_values", mode="before")
    @classmethod
    def _label_value_keys(cls, value: Any) -> Any:
        """YAML reads ``true:`` and ``1:`` as a bool and an int; compare them as the text polars writes."""
        if isinstance(value, dict):
            return {(str(k).lower() if isinstance(k, bool) else str(k)): v for k, v in value.items()}
        return value

    @field_validator("columns")
    @classmethod
    def _known_targets(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(TARGETS))
        if unknown:
            raise ValueError(f"columns: unknown schema field(s) {unknown}; use {list(TARGETS)}")
        return value

    @field_validator("think_tags")
    @classmethod
    def _tags(cls, value: tuple[str, str]) -> tuple[str, str]:
        if not value[0] or not value[1] or value[0] == value[1]:
            raise ValueError("think_tags: two different, non-empty tags (opening, closing)")
        return value

    @model_validator(mode="after")
    def _one_way_each(self) -> MappedSource:
        if self.label is not None and "label" in self.columns:
            raise ValueError("set either label (one label for every row) or columns.label, not both")
        if self.category is not None and "category" in self.columns:
            raise ValueError("set either category (one for every row) or columns.category, not both")
        if "response" in self.columns and TRACE_TARGETS & set(self.columns):
            raise ValueError("map either response (split at think_tags) or original_reasoning/original_answer")
        return self

    # --- what a concrete source supplies ---

    @abstractmethod
    def read_raw(self, seed: int) -> tuple[pl.DataFrame, int]:
        """The raw table before mapping (a source that samples ``n`` as it reads: the sample), and the rows read."""

    @property
    @abstractmethod
    def where(self) -> str:
        """How error messages name the table (a file path, a Hub dataset)."""

    @abstractmethod
    def default_name(self) -> str:
        """The source name when neither ``source_name`` nor a preset gives one."""

    def default_license(self) -> str:
        """The license when neither ``license`` nor a preset gives one."""
        return "unknown (user supplied)"

    # --- shared ---

    @property
    def preset_spec(self) -> Preset | None:
        """The preset's values, or None."""
        return PRESETS[self.preset] if self.preset else None

    @property
    def name(self) -> str:
        """``source_name``, else the preset's source name, else the source's own default."""
        preset = self.preset_spec
        return self.source_name or (preset.source_name if preset else None) or self.default_name()

    @property
    def resolved_license(self) -> str:
        """``license``, else the preset's, else the source's default."""
        preset = self.preset_spec
        return self.license or (preset.license if preset else None) or self.default_license()

    def plan(self) -> _Plan:
        """Merge the preset and the explicit settings (explicit wins) into one mapping."""
        preset = self.preset_spec
        columns = {"prompt": "prompt", **(preset.columns if preset else {})}
        if self.label is not None:
            columns.pop("label", None)
        if self.category is not None:
            columns.pop("category", None)
        if TRACE_TARGETS & set(self.columns):
            columns.pop("response", None)
        columns.update(self.columns)
        plan = _Plan(
            columns=columns,
            label_values={**(preset.label_values if preset else {}), **self.label_values},
            empty_responses=frozenset(
                self.empty_responses if self.empty_responses is not None else (preset.empty_responses if preset else ())
            ),
        )
        if self.label is not None:
            plan.fixed_label = self.label
        elif "label" not in columns:
            if preset and preset.label:
                plan.fixed_label = preset.label
            else:
                columns["label"] = "label"
                plan.label_by_default = True
        if "category" not in columns:
            plan.fixed_category = self.category or (preset.category if preset else None) or "user"
        return plan

    def load(self) -> pl.DataFrame:
        """All rows in the prompts schema."""
        return self.load_with_report()[0]

    def load_with_report(self, seed: int = 0) -> tuple[pl.DataFrame, LoadReport]:
        """Read (sampled with ``seed`` where the source samples as it reads), map, check; count what was read."""
        raw, rows_read = self.read_raw(seed)
        plan = self.plan()
        self._check_columns(raw, plan)
        frame = raw.select([self._mapped(raw, target, column) for target, column in plan.columns.items()])
        if isinstance(frame.schema["category"] if "category" in frame.columns else None, pl.List):
            frame = frame.with_columns(pl.col("category").alias("categories"), pl.col("category").list.first())
        frame = frame.with_columns(pl.col("prompt").str.strip_chars())
        if "request" in frame.columns:  # a plain row of a wrapped set (WildJailbreak's vanilla rows) is its request
            request = pl.col("request").str.strip_chars()
            frame = frame.with_columns(pl.col("prompt").replace("", None).fill_null(request))
        bad_prompt = frame.with_row_index("row").filter(pl.col("prompt").is_null() | (pl.col("prompt") == ""))
        if bad_prompt.height:
            raise SourceError(f"{self.where}: empty prompt in row {bad_prompt['row'][0] + 1}")
        frame, traces = self._split_responses(frame, plan)
        frame, labels = self._labels(frame, plan)
        if plan.fixed_category is not None:
            frame = frame.with_columns(pl.lit(plan.fixed_category).alias("category"))
        rows = frame.to_dicts()
        license_ = self.resolved_license
        parts = [prompt_frame([r for r in rows if r["label"] == lab], self.name, lab, license_) for lab in LABELS]
        return pl.concat(parts), LoadReport(rows=rows_read, labels=labels, traces=traces)

    def _mapped(self, raw: pl.DataFrame, target: str, column: str) -> pl.Expr:
        """The expression that reads ``column`` as ``target``; a column of the wrong shape is a SourceError.

        Text targets take text, numbers and booleans (as text). ``category`` also takes a list of texts (the
        first is the category, the whole list goes to ``categories``). ``source_score`` takes a number, a
        text holding one, or an object of numbers (the lowest counts: a row is as good as its worst score).
        """
        dtype = raw.schema[column]
        named = f"{self.where}: mapped column {column!r} (for {target!r})"
        if target == "source_score":
            return _score(raw, column, named).alias(target)
        if target == "category" and isinstance(dtype, pl.List) and _is_text(dtype.inner):
            return pl.col(column).cast(pl.List(pl.String)).alias(target)
        if not _is_text(dtype):
            lists = " or a list of texts" if target == "category" else ""
            raise SourceError(f"{named} holds {dtype} values; it must hold text{lists}")
        return pl.col(column).cast(pl.String).alias(target)

    def _check_columns(self, raw: pl.DataFrame, plan: _Plan) -> None:
        for target, column in plan.columns.items():
            if column in raw.columns:
                continue
            preset = self.preset_spec
            if target == "label" and plan.label_by_default:
                rule = f" ({preset.label_rule})" if preset else ""
                raise SourceError(
                    f"{self.where}: no label column {column!r} and no label rule{rule}; set `label: harmful` or "
                    f"`label: benign` for every row, or map a column with `columns: {{label: <column>}}`; "
                    f"columns are {raw.columns}"
                )
            from_preset = preset and target in preset.columns and target not in self.columns
            origin = f" by preset {preset.name}" if from_preset else ""
            raise SourceError(
                f"{self.where}: mapped column {column!r} (for {target!r}{origin}) not found; columns are {raw.columns}"
            )

    def _split_responses(self, frame: pl.DataFrame, plan: _Plan) -> tuple[pl.DataFrame, TraceCounts | None]:
        if "response" not in frame.columns:
            return frame, None
        open_tag, close_tag = self.think_tags
        parts = [split_think(text, open_tag, close_tag, plan.empty_responses) for text in frame["response"]]
        counts = Counter(kind for kind, _, _ in parts)
        frame = frame.drop("response").with_columns(
            pl.Series("original_reasoning", [r for _, r, _ in parts], dtype=pl.String),
            pl.Series("original_answer", [a for _, _, a in parts], dtype=pl.String),
        )
        traces = TraceCounts(
            rows=len(parts),
            split=counts[SPLIT],
            empty_think=counts[EMPTY_THINK],
            no_tags=counts[NO_TAGS],
            unclosed=counts[UNCLOSED],
            empty=counts[EMPTY],
        )
        return frame, traces

    def _labels(self, frame: pl.DataFrame, plan: _Plan) -> tuple[pl.DataFrame, tuple[tuple[str | None, str, int], ...]]:
        if plan.fixed_label is not None:
            frame = frame.with_columns(pl.lit(plan.fixed_label).alias("label"))
            return frame, ((None, plan.fixed_label, frame.height),)
        found = frame["label"].str.strip_chars().to_list()
        mapped = []
        for row, value in enumerate(found, start=1):
            label = plan.label_values.get(value, value if value in LABELS else None) if value is not None else None
            if label is None:
                known = f"; mapped values are {sorted(plan.label_values)}" if plan.label_values else ""
                what = "has no label" if value is None else f"has label {value!r}, not harmful|benign"
                raise SourceError(f"{self.where}: row {row} {what}{known} (add it to label_values)")
            mapped.append(label)
        counts = Counter(zip(found, mapped, strict=True))
        frame = frame.with_columns(pl.Series("label", mapped, dtype=pl.String))
        return frame, tuple((value, label, n) for (value, label), n in sorted(counts.items()))
