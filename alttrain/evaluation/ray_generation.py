"""Generation through the teacher client on a Ray Data actor pool (``evaluation.executor: ray``).

For a model under test reached through the teacher client (``backend: teacher``: an OpenAI-compatible
endpoint shared by the actors, or an in-process vLLM engine per actor: data-parallel replicas). Every
answer goes into the evaluation cache under the key :class:`~alttrain.evaluation.generation.TeacherGenerator`
uses, so a local re-run answers from the cache, and the other way round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alttrain.evaluation.generation import Generation, Message, TeacherGenerator
from alttrain.llm.cache import ResponseCache
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import SamplingParams
from alttrain.scaleout.config import RayConfig

if TYPE_CHECKING:
    from alttrain.scaleout.accounting import ScaleoutReport


class RayTeacherGenerator(TeacherGenerator):
    """:class:`TeacherGenerator` whose requests run on the actor pool; :attr:`report` holds the pool's accounting."""

    def __init__(self, teacher: TeacherConfig, sampling: SamplingParams, cache: ResponseCache,
                 settings: RayConfig) -> None:  # fmt: skip
        super().__init__(teacher, sampling, cache)
        self._settings = settings
        self.report: ScaleoutReport | None = None

    def generate(self, conversations: list[list[Message]]) -> list[Generation]:
        """Answer every conversation on the pool; a request that failed becomes a row error."""
        from alttrain.scaleout.driver import complete_on_ray

        assert self._cache is not None  # the constructor takes a cache: the actors' answers are merged into it
        run = complete_on_ray(conversations, self._teacher, self._sampling, self._cache, self._settings)
        self.report = run.report
        return [
            Generation("", error=row["error"]) if row["error"] else
            Generation(row["text"], row["reasoning_content"], row["completion_tokens"], row["finish_reason"])
            for row in run.rows
        ]
