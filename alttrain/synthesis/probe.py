"""The ``teacher_probe`` stage: a few prompts through a second teacher, reported and never trained on.

The quickstart uses it to show the embedded LLM teacher writing the structure next to the rule-based
teacher that makes the training data; its validity rate (ok rows / probe rows) is what it reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from alttrain.console import say
from alttrain.errors import ConfigError
from alttrain.layout import LOGS_DIR, PROBE_DIR, PROMPTS_FILE, SYNTHESIZED_FILE
from alttrain.quiet import library_output_to
from alttrain.stage import Stage, StageContext
from alttrain.synthesis.stage import SynthesisResult, run_synthesis
from alttrain.synthesis.view import SynthesisView


@dataclass(frozen=True)
class TeacherProbeResult:
    """What the teacher probe wrote: a synthesis of a few prompts through ``synthesis.probe.teacher``."""

    teacher: str
    synthesis: SynthesisResult

    @property
    def validity(self) -> float:
        """Share of probe rows whose trace held the structure (0 when there were none)."""
        return self.synthesis.ok / self.synthesis.rows if self.synthesis.rows else 0.0


def run_teacher_probe(config: SynthesisView, run_dir: Path, *, console: Console | None = None) -> TeacherProbeResult:
    """Synthesize ``synthesis.probe.n`` prompts of the pool through the probe teacher into ``RUN/teacher_probe/``.

    Raises:
        ConfigError: when ``synthesis.probe`` is not configured.

    """
    import polars as pl

    from alttrain.records import read_stage, write_stage

    probe = config.synthesis.probe
    if probe is None:
        raise ConfigError("synthesis.probe is not configured")
    prompts = read_stage(run_dir / PROMPTS_FILE, "prompts")
    harmful = prompts.filter(pl.col("label") == "harmful")
    benign = prompts.filter(pl.col("label") == "benign")
    n_harmful = min(harmful.height, max(probe.n // 2, probe.n - benign.height))
    n_benign = min(benign.height, probe.n - n_harmful)
    sample = pl.concat([harmful.sample(n_harmful, seed=probe.seed), benign.sample(n_benign, seed=probe.seed)])
    probe_dir = run_dir / PROBE_DIR
    write_stage(sample, probe_dir / PROMPTS_FILE, "prompts")
    synthesis = config.synthesis.model_copy(
        update={"teacher": probe.teacher, "probe": None, "limit": None, "cache_path": None}
    )
    result = run_synthesis(config.model_copy(update={"synthesis": synthesis}), probe_dir, console=console)
    return TeacherProbeResult(teacher=f"{probe.teacher.backend}:{probe.teacher.model}", synthesis=result)


def show_teacher_probe(console: Console, result: TeacherProbeResult, config: SynthesisView) -> None:
    """The LLM teacher probe: how many of its traces held the structure."""
    say(
        console,
        f"teacher probe {result.teacher}: {result.synthesis.ok}/{result.synthesis.rows} traces valid "
        f"({result.validity:.0%}); wrote {result.synthesis.path}",
    )


def _run(context: StageContext[SynthesisView]) -> TeacherProbeResult:
    with library_output_to(context.run_dir / LOGS_DIR / "teacher_probe.log"):  # the probe engine's chatter
        return run_teacher_probe(context.config, context.run_dir, console=context.console)


PROBE_STAGE = Stage(
    name="teacher_probe",
    summary="Synthesize a few prompts through the probe teacher and report how many held the structure.",
    view=SynthesisView,
    inputs=(PROMPTS_FILE,),
    outputs=(f"{PROBE_DIR}/{SYNTHESIZED_FILE}",),
    run=_run,
    show=show_teacher_probe,
    enabled=lambda config: config.synthesis.probe is not None,
    command=False,
)
