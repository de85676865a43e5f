"""Gather every datasheet answer that a run can know: sources, teacher, tokens, funnel, review, stats.

Nothing here is boilerplate: each value is read from the run's files or its config. What only a
human can answer is left to the templates, which mark it as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from alttrain.datasheets.funnel import FunnelStep, funnel_steps
from alttrain.datasheets.inputs import RunInputs
from alttrain.datasheets.licenses import LicenseSummary, summarise_licenses
from alttrain.datasheets.policy import PolicySection, policy_section
from alttrain.datasheets.stats import (
    Adherence,
    LengthStat,
    Reduction,
    adherence,
    category_mix,
    label_balance,
    language_mix,
    length_stats,
    length_unit,
    phase_lengths,
    reduction,
    rewrite_lengths,
)
from alttrain.datasheets.view import DatasheetView
from alttrain.records import STATUS_OK
from alttrain.sections import fingerprint

PRIVATE_REVIEW_KEYS = frozenset({"reviewers", "api_url", "workspace", "dataset", "pulled_at"})


@dataclass(frozen=True)
class SourceRow:
    """One source's rows through the run."""

    source: str
    license: str
    pooled: int
    synthesized_ok: int
    quarantined: int
    final: int
    final_harmful: int
    final_benign: int
    commit: str | None = None  # the Hub commit the source was read at


@dataclass(frozen=True)
class TeacherInfo:
    """Who wrote the traces and how."""

    backend: str
    model: str
    base_url: str | None
    structured_output: bool
    mode: str
    max_repair_attempts: int
    sampling: dict[str, Any]
    teachers: dict[str, int]  # the ``teacher`` column of synthesized rows
    template_versions: dict[str, int]
    modes: dict[str, int]  # rewrite | generate, over synthesized rows


@dataclass(frozen=True)
class TokenTotals:
    """Teacher tokens over every synthesized row, and the cost when prices are configured."""

    requests_rows: int
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    final_prompt_tokens: int
    final_completion_tokens: int
    price_in: float | None
    price_out: float | None
    currency: str

    @property
    def cost(self) -> float | None:
        """Cost of all synthesized rows at the configured prices; None when unpriced."""
        if self.price_in is None or self.price_out is None:
            return None
        return self.prompt_tokens / 1e6 * self.price_in + self.completion_tokens / 1e6 * self.price_out


@dataclass(frozen=True)
class SendingInfo:
    """How synthesis sent its requests: the executor and its pool, and the batch teacher's accounting."""

    executor: str  # local | ray | batch
    requests_sent: int
    elapsed_s: float
    actors: int
    per_actor: list[dict[str, Any]]  # ray: node, rows, requests sent, restarts per actor
    batch_ids: list[str]
    batch_accounting: dict[str, Any] | None


@dataclass(frozen=True)
class Provenance:
    """Everything the datasheet and the card say about one run."""

    name: str
    pretty_name: str
    fingerprint: str
    fingerprint_origin: str
    final_stage: str
    rows: int
    written_between: tuple[str, str]
    sources: list[SourceRow]
    licenses: LicenseSummary
    teacher: TeacherInfo
    tokens: TokenTotals
    sending: SendingInfo | None  # None: a run from before scaleout.json was written
    synthesized_rows: int
    synthesized_ok: int
    quarantine_reasons: dict[str, int]  # reason kind (the text before its first ':') -> rows
    funnel: list[FunnelStep]
    curation_reasons: list[tuple[str, str, int]]  # (curation step, reason, rows) for every removed row
    curation_warnings: list[str]
    review: dict[str, Any] | None  # the review report's figures, reviewers counted rather than named
    adherence_synthesized: list[Adherence]
    adherence_final: list[Adherence]
    lengths: list[LengthStat]
    length_unit: str
    balance: dict[str, int]
    languages: list[dict[str, Any]]  # rows per language: language, harmful, benign, total
    categories: list[dict[str, Any]]
    policy: PolicySection
    reduction: Reduction | None
    structure_example: str  # the skeleton in each language of the final rows (English first), blank-line separated
    maintainer: str | None
    contact: str | None

    @property
    def size_category(self) -> str:
        """The Hub's size bucket for the final row count."""
        for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                            (1_000_000, "100K<n<1M")):
            if self.rows < limit:
                return name
        return "1M<n<10M"


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    """Rows per value of ``column`` (nulls as ``"(none)"``), largest first."""
    counts = frame.group_by(pl.col(column).fill_null("(none)")).agg(pl.len()).sort(["len", column],
                                                                                 descending=[True, False])
    return {str(key): int(value) for key, value in counts.iter_rows()}


def _sources(inputs: RunInputs) -> list[SourceRow]:
    """Per-source counts in the prompt pool, the synthesized rows and the final dataset."""
    pooled = inputs.prompts.group_by("source", "license").agg(pl.len().alias("pooled"))
    synthesized = inputs.synthesized.group_by("source").agg(
        (pl.col("status") == STATUS_OK).sum().alias("ok"), (pl.col("status") != STATUS_OK).sum().alias("bad")
    )
    final = inputs.final.group_by("source").agg(
        pl.len().alias("final"),
        (pl.col("label") == "harmful").sum().alias("harmful"),
        (pl.col("label") == "benign").sum().alias("benign"),
    )
    joined = pooled.join(synthesized, on="source", how="left").join(final, on="source", how="left")
    rows = joined.fill_null(0).sort("pooled", "source", descending=[True, False]).iter_rows(named=True)
    return [
        SourceRow(row["source"], row["license"], row["pooled"], row["ok"], row["bad"], row["final"],
                  row["harmful"], row["benign"], inputs.hub_commits.get(row["source"]))
        for row in rows
    ]


def _curation_reasons(report: dict[str, Any]) -> list[tuple[str, str, int]]:
    """Every (step, reason, rows) of the curation report's filters and dedup steps."""
    return [
        (f"{key}: {step['name']}", str(reason), int(rows))
        for key in ("filters", "dedup")
        for step in report.get(key, [])
        for reason, rows in (step.get("reasons") or {}).items()
    ]


def _review_figures(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The review report without who reviewed or where the server ran (reviewers are counted, not named)."""
    if report is None:
        return None
    figures = {key: value for key, value in report.items() if key not in PRIVATE_REVIEW_KEYS}
    if isinstance(report.get("reviewers"), dict):
        figures["reviewers"] = len(report["reviewers"])
    return figures


def _teacher(config: DatasheetView, synthesized: pl.DataFrame) -> TeacherInfo:
    """Describe the configured teacher and what the synthesized rows record about it."""
    teacher = config.synthesis.teacher
    return TeacherInfo(
        backend=teacher.backend,
        model=teacher.model,
        base_url=teacher.base_url,
        structured_output=teacher.structured_output,
        mode=config.synthesis.mode,
        max_repair_attempts=config.synthesis.max_repair_attempts,
        sampling=teacher.sampling.model_dump(),
        teachers=_counts(synthesized, "teacher"),
        template_versions=_counts(synthesized, "template_version"),
        modes=_counts(synthesized, "mode"),
    )


def _sending(inputs: RunInputs) -> SendingInfo | None:
    """What ``scaleout.json`` and ``batches.json`` record about how the requests went out."""
    report, batches = inputs.scaleout, inputs.batches
    if report is None:
        return None
    per_actor = [
        {"node": actor.get("node", ""), "rows": actor.get("rows", 0), "sent": actor.get("sent", 0),
         "restarts": actor.get("restarts", 0)}
        for actor in report.get("per_actor", [])
    ]  # fmt: skip
    records = batches.get("batches", []) if batches else []
    return SendingInfo(
        executor=str(report.get("executor", "local")),
        requests_sent=int(report.get("requests_sent", 0)),
        elapsed_s=float(report.get("elapsed_s", 0.0)),
        actors=int(report.get("actors", 1)),
        per_actor=per_actor,
        batch_ids=[record["batch_id"] for record in records if record.get("batch_id")],
        batch_accounting=batches.get("accounting") if batches else None,
    )


def _tokens(config: DatasheetView, inputs: RunInputs) -> TokenTotals:
    """Token totals over all synthesized rows (what was paid for) and over the final rows."""
    def total(frame: pl.DataFrame, column: str) -> int:
        return int(frame[column].fill_null(0).sum())

    sheet = config.datasheet
    return TokenTotals(
        requests_rows=inputs.synthesized.height,
        attempts=total(inputs.synthesized, "attempts"),
        prompt_tokens=total(inputs.synthesized, "prompt_tokens"),
        completion_tokens=total(inputs.synthesized, "completion_tokens"),
        final_prompt_tokens=total(inputs.final, "prompt_tokens"),
        final_completion_tokens=total(inputs.final, "completion_tokens"),
        price_in=sheet.price_per_million_input_tokens,
        price_out=sheet.price_per_million_output_tokens,
        currency=sheet.currency,
    )


def _fingerprint(config: DatasheetView, inputs: RunInputs) -> tuple[str, str]:
    """Return the run's config fingerprint and where it came from."""
    resolved = inputs.resolved_config or {}
    if isinstance(resolved.get("fingerprint"), str):
        return resolved["fingerprint"], "RUN/config.yaml"
    return fingerprint(config), "computed from the config given to the datasheet stage (no RUN/config.yaml)"


def _structure_examples(config: DatasheetView, final: pl.DataFrame) -> str:
    """The structure's skeleton in every language of the final rows with a set of its own, English first."""
    spec = config.structure
    languages = [row["language"] for row in language_mix(final) if row["language"] in spec.languages]
    return "\n\n".join(spec.skeleton(language=language) for language in [None, *languages])


def gather_provenance(config: DatasheetView, inputs: RunInputs, measured: pl.DataFrame) -> Provenance:
    """Collect every answer the datasheet can give from ``inputs``, ``config`` and the measured final rows."""
    final = inputs.final
    sources = _sources(inputs)
    synthesized_ok = inputs.synthesized.filter(pl.col("status") == STATUS_OK)
    quarantined = inputs.synthesized.filter(pl.col("status") != STATUS_OK)
    digest, origin = _fingerprint(config, inputs)
    sheet = config.datasheet
    return Provenance(
        name=config.name,
        pretty_name=sheet.pretty_name or f"alttrain {config.name}",
        fingerprint=digest,
        fingerprint_origin=origin,
        final_stage=inputs.final_stage,
        rows=final.height,
        written_between=inputs.written_between,
        sources=sources,
        licenses=summarise_licenses([(s.source, s.license) for s in sources if s.final], sheet.license),
        teacher=_teacher(config, inputs.synthesized),
        tokens=_tokens(config, inputs),
        sending=_sending(inputs),
        synthesized_rows=inputs.synthesized.height,
        synthesized_ok=synthesized_ok.height,
        quarantine_reasons=_counts(quarantined.select(pl.col("reason").str.split(":").list.first()), "reason"),
        funnel=funnel_steps(inputs),
        curation_reasons=_curation_reasons(inputs.curation_report),
        curation_warnings=[str(w) for w in inputs.curation_report.get("warnings", [])],
        review=_review_figures(inputs.review_report),
        adherence_synthesized=adherence(synthesized_ok, config.structure),
        adherence_final=adherence(final, config.structure),
        lengths=length_stats(phase_lengths(measured)),
        length_unit=length_unit(config.curation.tokenizer),
        balance=label_balance(final),
        languages=language_mix(final),
        categories=category_mix(final).to_dicts(),
        policy=policy_section(config.synthesis.policy, final),
        reduction=reduction(rewrite_lengths(measured)),
        structure_example=_structure_examples(config, final),
        maintainer=sheet.maintainer,
        contact=sheet.contact,
    )
