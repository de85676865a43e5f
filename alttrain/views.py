"""How each stage's result is shown in the terminal (rich), shared by the stage commands and ``run``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from alttrain.config import RunConfig
    from alttrain.curation.review.pull import PullResult
    from alttrain.curation.review.push import PushResult
    from alttrain.curation.run import CurationResult
    from alttrain.datasheets.build import DatasheetResult
    from alttrain.evaluation.report import EvaluationResult
    from alttrain.stages import PromptsResult, SynthesisResult, TeacherProbeResult
    from alttrain.training.run import TrainingResult


def _counts_table(title: str, counts: dict[str, object]) -> Table:
    """A one-row table of named counts."""
    table = Table(title=title)
    for column in counts:
        table.add_column(column, justify="right")
    table.add_row(*map(str, counts.values()))
    return table


def show_prompts(console: Console, result: PromptsResult, config: RunConfig) -> None:
    """The prompt pool per source."""
    table = Table(title="prompt pool")
    for column in ("source", "license", "loaded", "sampled", "merged", "kept", "harmful", "benign"):
        table.add_column(column, justify="left" if column in {"source", "license"} else "right")
    for row in result.sources:
        numbers = (row.loaded, row.sampled, row.duplicates_merged, row.kept, row.harmful, row.benign)
        table.add_row(row.source, row.license, *map(str, numbers))
    console.print(table)
    console.print(f"wrote {result.path} ({result.rows} prompts)")


def show_synthesis(console: Console, result: SynthesisResult, config: RunConfig, reparse: bool = False) -> None:
    """Synthesis counts, quarantine reasons and where the rows went."""
    title = "synthesis" + (" (re-parsed from the cache)" if reparse else "")
    console.print(_counts_table(title, {
        "prompts": result.rows, "ok": result.ok, "quarantined": result.quarantined,
        "requests sent": result.requests_sent, "cache hits": result.cache_hits, "retries": result.retries,
        "prompt tokens": result.prompt_tokens, "completion tokens": result.completion_tokens,
    }))  # fmt: skip
    for kind, rows in sorted(result.reasons.items()):
        console.print(f"  quarantined {rows} x {kind}")
    console.print(
        f"wrote {result.path} ({result.rows} rows = {result.ok} ok + {result.quarantined} quarantined) "
        f"in {result.elapsed_s:.1f} s; cache {result.cache_path}"
    )


def show_teacher_probe(console: Console, result: TeacherProbeResult, config: RunConfig) -> None:
    """The LLM teacher probe: how many of its traces held the structure."""
    console.print(
        f"teacher probe {result.teacher}: {result.synthesis.ok}/{result.synthesis.rows} traces valid "
        f"({result.validity:.0%}); wrote {result.synthesis.path}"
    )


def show_curation(console: Console, result: CurationResult, config: RunConfig) -> None:
    """The curation funnel with every drop reason."""
    table = Table(title="curation funnel")
    for column in ("step", "removed", "remaining"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for step, removed, remaining in result.report.table():
        table.add_row(step, str(removed), str(remaining))
    console.print(table)
    steps = [result.report.quarantined, *result.report.filters, *result.report.dedup]
    for reason, rows in sorted((r, n) for step in steps for r, n in step.reasons.items()):
        console.print(f"  {rows} x {reason}", highlight=False)
    for warning in result.report.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    labels = ", ".join(f"{label} {rows}" for label, rows in result.report.selected_by_label.items())
    console.print(f"wrote {result.curated_path} ({result.report.selected} rows: {labels}), {result.rejected_path}")
    console.print(f"wrote {result.report_path}")


def show_review_push(console: Console, result: PushResult, config: RunConfig) -> None:
    """Where the records went in Argilla."""
    action = "created" if result.created else "updated"
    console.print(
        f"pushed {result.pushed} records to {result.api_url} workspace {result.workspace!r}, dataset "
        f"{result.dataset!r} ({action}; it holds {result.records_in_dataset} records)"
    )


def show_review_pull(console: Console, result: PullResult, config: RunConfig) -> None:
    """Review counts, rejections, edits and agreement."""
    report = result.report
    console.print(_counts_table(f"review of {report['dataset']!r}", {
        "records": report["records"], "reviewed": report["reviewed"], "unreviewed": report["unreviewed"],
        "kept": report["output"]["reviewed_rows"], "rejected": report["output"]["rejected_rows_added"],
    }))  # fmt: skip
    for reason, rows in sorted(report["reasons"].items()):
        console.print(f"  rejected {rows} x {reason}")
    edits = report["edits"]
    console.print(
        f"  edits: {edits['applied']} applied, {edits['invalid']} invalid (original kept); "
        f"{report['relabelled']} relabelled"
    )
    agreement = report["agreement"]
    if agreement["multi_reviewed_records"]:
        console.print(
            f"  agreement on {agreement['multi_reviewed_records']} multi-reviewed records: "
            f"{agreement['unanimous']} unanimous, mean pairwise {agreement['mean_pairwise']}"
        )
    console.print(f"wrote {result.reviewed_path}, {result.rejected_path}, {result.report_path}")


def show_datasheet(console: Console, result: DatasheetResult, config: RunConfig) -> None:
    """Per-source counts of the final dataset and the documents written."""
    sheet = result.provenance
    table = Table(title=f"datasheet ({sheet.final_stage} output, license {sheet.licenses.statement})")
    for column in ("source", "in prompt pool", "synthesized ok", "in dataset", "harmful", "benign"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for row in sheet.sources:
        numbers = (row.pooled, row.synthesized_ok, row.final, row.final_harmful, row.final_benign)
        table.add_row(row.source, *map(str, numbers))
    console.print(table)
    drawn = [f.path for f in result.figures if f.path]
    for figure in result.figures:
        if figure.skipped:
            console.print(f"  figure {figure.name} skipped: {figure.skipped}")
    console.print(f"wrote {result.datasheet} and {result.card} ({len(drawn)} figures; "
                  f"{result.needs_human} questions marked for a human)")
    console.print(f"wrote {result.exports.folder} ({result.exports.rows} rows: hf/, train.jsonl, "
                  "train_reasoning_content.jsonl, instruction_response.jsonl, train.parquet)")
    if result.pushed_to:
        console.print(f"pushed to {result.pushed_to}")


def show_training(console: Console, result: TrainingResult, config: RunConfig) -> None:
    """Steps, loss, trained tokens and where the adapter went."""
    loss = f"{result.final_loss:.4f}" if result.final_loss is not None else "n/a"
    dropped = ", ".join(f"{reason} {count}" for reason, count in result.dropped.items()) or "none"
    console.print(f"trained on {result.rows_used} rows (dropped: {dropped}) with the {result.backend} backend: "
                  f"{result.steps} steps, final loss {loss}, {result.trained_tokens} trained tokens")
    console.print(f"wrote {result.adapter_dir}" + (f" and {result.merged_dir}" if result.merged_dir else ""))
    console.print(f"wrote {result.report_path} and {result.loss_plot}")


def show_evaluation(console: Console, result: EvaluationResult, config: RunConfig) -> None:
    """The metrics table, per-model generation counts and the report files."""
    from alttrain.evaluation.report import summary_table

    console.print(summary_table(result.outcome, config))
    for model in result.outcome.models:
        console.print(f"{model.name}: {model.answered} answered, {model.failed} failed, {model.truncated} cut off")
    heuristic = result.outcome.heuristic
    console.print(
        f"refusal heuristic: accuracy {heuristic.accuracy:.3f} on {heuristic.n} labelled responses "
        f"(pyrit refusal set; {heuristic.false_positive} false positives, {heuristic.false_negative} false negatives)"
    )
    files = result.files
    console.print(f"wrote {files.markdown}, {files.json}, {files.outputs} and {len(files.figures)} figures")
