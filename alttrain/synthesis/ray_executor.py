"""``synthesis.executor: ray``: the synthesis engine on a Ray Data actor pool (:mod:`alttrain.scaleout`).

Every actor runs :func:`~alttrain.synthesis.engine.synthesize`, the local engine, over its batches with
its own teacher client, so a row is made exactly as locally: the same messages, repairs, quarantine
reasons and cache keys. Rows come back in prompt order; every answer the actors received is merged into
``RUN/cache.sqlite``, so ``--reparse`` and a later local run read it there.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import TeacherClient
from alttrain.llm.config import TeacherConfig
from alttrain.records import PROMPT_SCHEMA, SYNTHESIZED_SCHEMA
from alttrain.scaleout.accounting import ScaleoutReport
from alttrain.scaleout.driver import RowCallback, run_on_ray
from alttrain.scaleout.jobs import ClientJob, Row, align
from alttrain.structure import StructureSpec
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.engine import SynthesisOutcome, synthesize


class SynthesisJob(ClientJob):
    """Prompt records in, synthesized rows out, through the local engine (its requests carry the prompt's id).

    Args:
        config: the ``synthesis`` section.
        spec: the structure every trace is rendered in and validated against.

    """

    def __init__(self, config: SynthesisConfig, spec: StructureSpec) -> None:
        self._config, self._spec = config, spec

    @property
    def teacher(self) -> TeacherConfig:
        """``synthesis.teacher``."""
        return self._config.teacher

    async def run(self, records: list[Row], client: TeacherClient, *, partial: bool) -> list[Row | None]:
        """Synthesize the records' rows (None: left unfinished by a partial pass)."""
        prompts = pl.DataFrame(records, schema=PROMPT_SCHEMA)
        outcome = await synthesize(prompts, self._config, self._spec, client, partial=partial)
        return align(records, outcome.frame.to_dicts(), outcome.unfinished)


def synthesize_on_ray(
    prompts: pl.DataFrame, config: SynthesisConfig, spec: StructureSpec, cache_path: Path, *,
    on_row: RowCallback | None = None,
) -> tuple[SynthesisOutcome, ScaleoutReport]:  # fmt: skip
    """Synthesize every prompt row on the actor pool of ``config.ray``; rows keep the prompts' order.

    Raises:
        TeacherAccessError: the endpoint refused the run (answers received before are cached).
        ConfigError: Ray is not installed, or a node would compute other cache keys.

    """
    with ResponseCache(cache_path) as cache:
        stale = cache.stale_entries()
        run = run_on_ray(prompts.to_dicts(), SynthesisJob(config, spec), cache, config.ray, on_row=on_row)
    frame = pl.DataFrame(run.rows, schema=SYNTHESIZED_SCHEMA)
    outcome = SynthesisOutcome(frame=frame, stats=run.stats, elapsed_s=run.report.elapsed_s, stale_cache_entries=stale)
    return outcome, run.report
