"""The models under test as clients of the one LLM client (:class:`~alttrain.llm.client.TeacherClient`).

Each model becomes a :class:`~alttrain.llm.config.TeacherConfig` of its registered backend, so it shares
the teacher's cache, keys, accounting and quiet output. A backend that loads a checkpoint
(``supports_lora``) gets the training base model by default, the adapter under the run directory, the
chat template training used, and evaluation's batching, threads and precision. Its conversations are
answered as :class:`~alttrain.execution.jobs.RequestJob` rows on an executor: in this process through
:meth:`~alttrain.llm.client.TeacherClient.complete_many` (the backend sees every uncached request at
once: transformers' padded batches), or on a pool of Ray actors (``evaluation.executor: {kind: ray}``)
for a backend that ``supports_ray``. Either way every answer lands in the evaluation cache under the same key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alttrain.errors import ConfigError
from alttrain.evaluation.config import EvaluationConfig, ModelUnderTest
from alttrain.execution.jobs import RequestJob, Row
from alttrain.llm.backends import backend_class
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import teacher_identity
from alttrain.llm.config import CheckpointOptions, ClientOptions, TeacherConfig, TransformersOptions
from alttrain.llm.types import SamplingParams

if TYPE_CHECKING:
    from alttrain.execution.base import Executor
    from alttrain.scaleout.accounting import ScaleoutReport


@dataclass(frozen=True)
class Checkpoints:
    """What a checkpoint model under test takes from training: its base model and how its data was rendered.

    ``rendering`` holds the chat-template setting, the think marker and where ``smollm2-embedded`` is converted
    (no adapter: each model names its own).
    """

    base_model: str
    rendering: CheckpointOptions


def client_config(model: ModelUnderTest, evaluation: EvaluationConfig, checkpoints: Checkpoints,
                  run_dir: Path) -> TeacherConfig:  # fmt: skip
    """The client config of one model under test."""
    options = model.model_dump(include=set(ClientOptions.model_fields) - {"model"})
    teacher = TeacherConfig(model=model.model or checkpoints.base_model, **options)
    if not backend_class(model.backend).supports_lora:
        return teacher
    adapter = None if model.adapter is None else run_dir / model.adapter  # an absolute adapter path stays as is
    generation = TransformersOptions(precision=evaluation.precision, threads=evaluation.threads,
                                     batch_size=evaluation.batch_size)  # fmt: skip
    return teacher.model_copy(update={"checkpoint": checkpoints.rendering.model_copy(update={"adapter": adapter}),
                                      "transformers": generation})  # fmt: skip


def model_sampling(model: ModelUnderTest, evaluation: EvaluationConfig) -> SamplingParams:
    """``evaluation.sampling``, with the model's own ``max_tokens`` when it sets one."""
    sampling = evaluation.sampling.to_params()
    return sampling if model.max_tokens is None else replace(sampling, max_tokens=model.max_tokens)


def distinct_clients(evaluation: EvaluationConfig, checkpoints: Checkpoints, run_dir: Path) -> dict[str, TeacherConfig]:
    """A client config per model (nothing loaded yet); two models with one identity would share cache entries.

    Raises:
        ConfigError: naming the models whose identities (``backend:model``, plus file hashes for a
            checkpoint) coincide.
        MissingInputError: a configured adapter directory holds no adapter.

    """
    models = evaluation.models
    clients = {name: client_config(model, evaluation, checkpoints, run_dir) for name, model in models.items()}
    seen: dict[str, str] = {}
    for name, teacher in clients.items():
        identity = teacher_identity(teacher)
        if identity in seen:
            raise ConfigError(
                f"evaluation.models: {seen[identity]!r} and {name!r} are the same model ({identity}); give them "
                "distinct model names or weights"
            )
        seen[identity] = name
    return clients


def answer(
    conversations: list[list[dict[str, str]]], teacher: TeacherConfig, sampling: SamplingParams,
    cache: ResponseCache, executor: Executor[Any],
) -> tuple[list[Row], ScaleoutReport | None]:  # fmt: skip
    """One :class:`RequestJob` row per conversation, in order, and the report of an executor away from here.

    A request that failed (after the client's retries) is a row with ``error`` set and no text. Every answer
    ends up in ``cache`` (an executor's actors' answers are merged into it).
    """
    records: list[Row] = [{"messages": conversation} for conversation in conversations]
    execution = executor.run(records, RequestJob(teacher, sampling), cache)
    rows = [row for row in execution.rows if row is not None]
    return rows, execution.report if executor.distributed else None
