"""Generation through the teacher client on an executor that runs away from this process (``executor: {kind: ray}``).

For a model under test reached through the teacher client (``backend: teacher``: an OpenAI-compatible
endpoint shared by the actors, or an in-process vLLM engine per actor: data-parallel replicas). The
executor (:mod:`alttrain.execution`) runs a :class:`~alttrain.execution.jobs.RequestJob`; every answer goes
into the evaluation cache under the key :class:`~alttrain.evaluation.generation.TeacherGenerator` uses, so a
local re-run answers from the cache, and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from alttrain.evaluation.generation import Generation, Message, TeacherGenerator
from alttrain.execution.jobs import RequestJob
from alttrain.llm.cache import ResponseCache
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import SamplingParams

if TYPE_CHECKING:
    from alttrain.execution.base import Execution, Executor


class ExecutorTeacherGenerator(TeacherGenerator):
    """:class:`TeacherGenerator` whose requests run on ``executor``; ``on_execution`` gets what it returned."""

    def __init__(self, teacher: TeacherConfig, sampling: SamplingParams, cache: ResponseCache,
                 executor: Executor[Any], on_execution: Callable[[Execution], None]) -> None:  # fmt: skip
        super().__init__(teacher, sampling, cache)
        self._executor, self._on_execution = executor, on_execution

    def generate(self, conversations: list[list[Message]]) -> list[Generation]:
        """Answer every conversation on the executor; a request that failed becomes a row error."""
        assert self._cache is not None  # the constructor takes a cache: the executor's answers end up in it
        records = [{"messages": conversation} for conversation in conversations]
        execution = self._executor.run(records, RequestJob(self._teacher, self._sampling), self._cache)
        self._on_execution(execution)
        return [
            Generation("", error=row["error"]) if row["error"] else
            Generation(row["text"], row["reasoning_content"], row["completion_tokens"], row["finish_reason"])
            for row in execution.rows if row is not None
        ]
