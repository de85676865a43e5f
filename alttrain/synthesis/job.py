"""Synthesis as an executor's job: prompt records in, synthesized rows out, through the engine.

Every executor (:mod:`alttrain.execution`) runs :func:`~alttrain.synthesis.engine.synthesize` over its records
with its own teacher clients (locally, on every Ray actor, in every batch pass), so a row is made exactly
as locally: the same messages, repairs, quarantine reasons and cache keys. Rows come back in prompt order.
"""

from __future__ import annotations

import polars as pl

from alttrain.execution.jobs import ClientJob, Row, RowCallback, align
from alttrain.llm.client import TeacherClient
from alttrain.llm.config import TeacherConfig
from alttrain.records import PROMPT_SCHEMA
from alttrain.structure import StructureSpec
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.engine import synthesize
from alttrain.synthesis.own import synthesize_own


class SynthesisJob(ClientJob):
    """Prompt records in, synthesized rows out, through the local engine (its requests carry the prompt's id).

    Modes ``self`` and ``restyle`` run :func:`~alttrain.synthesis.own.synthesize_own` instead (the model's own traces).

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

    @property
    def chained_requests(self) -> int:
        """A row's first request and each repair: ``1 + max_repair_attempts`` (self/restyle: its samples, at once)."""
        return 1 if self._config.own_traces else 1 + self._config.max_repair_attempts

    async def run(
        self, records: list[Row], client: TeacherClient, *, partial: bool, on_row: RowCallback | None = None
    ) -> list[Row | None]:
        """Synthesize the records' rows (None: left unfinished by a partial pass)."""
        prompts = pl.DataFrame(records, schema=PROMPT_SCHEMA)
        make = synthesize_own if self._config.own_traces else synthesize
        outcome = await make(prompts, self._config, self._spec, client, on_row, partial=partial)
        return align(records, outcome.frame.to_dicts(), outcome.unfinished)
