"""Options of the Ray executor: where the cluster is, how many actors, what each one gets, how rows are batched."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from alttrain.llm.backends import backend_class
from alttrain.llm.config import TeacherConfig


class RayConfig(BaseModel):
    """The options of ``executor: {kind: ray, ...}`` (:class:`~alttrain.execution.ray.RaySettings`).

    Each actor owns one teacher client (an in-process vLLM engine on its GPUs, or a client of an
    OpenAI-compatible endpoint) and caches every answer on its node's local disk (``node_cache_dir``,
    never a network filesystem: SQLite's WAL needs one host); the driver merges those answers into the
    run's cache as batches come back.
    """

    model_config = ConfigDict(extra="forbid")

    # None: start a single-node cluster inside this process (shut down after); "auto": the cluster this
    # machine belongs to (`ray start`); "ray://HOST:10001": a remote cluster through Ray Client
    address: str | None = None
    actors: PositiveInt = 1  # the actor pool's size: one teacher client each
    cpus_per_actor: float = Field(default=1.0, ge=0.0)
    gpus_per_actor: float = Field(default=0.0, ge=0.0)  # an in-process vLLM teacher: its tensor_parallel_size
    # rows per actor call at most (a crash retries its batch: answered rows are cache hits); a smaller pass is cut
    # finer, so that every actor gets batches_per_actor batches (pool_shape)
    batch_size: PositiveInt = 512
    batches_per_actor: PositiveInt = 2  # worked on at once through the actor's one client: no idle tail per batch
    node_cache_dir: Path | None = None  # node-local folder for the actors' caches; None: <tmp>/alttrain-ray
    local_cpus: PositiveInt | None = None  # the CPUs of a cluster started here (address unset); None: all
    # a fault drill (tests): one actor exits abruptly halfway through its (K+1)-th batch, once per run
    crash_after_batches: PositiveInt | None = None


def actor_teacher(teacher: TeacherConfig, actors: int) -> TeacherConfig:
    """The teacher one of ``actors`` actors runs: a shared endpoint's budgets divided among them.

    ``concurrency``, ``requests_per_minute`` and ``tokens_per_minute`` are an endpoint's budgets: actors
    that share one (a backend with ``shared_endpoint``, such as ``openai``) get ``1/actors`` of each (at least
    1), so the endpoint sees what a local run would send. An in-process engine (``vllm``, ``local``,
    ``template``) is one per actor and keeps them whole.
    None of these settings is part of a cache key.
    """
    if not backend_class(teacher.backend).shared_endpoint or actors == 1:
        return teacher

    def share(budget: int | None) -> int | None:
        return None if budget is None else max(1, budget // actors)

    return teacher.model_copy(update={
        "concurrency": share(teacher.concurrency), "requests_per_minute": share(teacher.requests_per_minute),
        "tokens_per_minute": share(teacher.tokens_per_minute),
    })  # fmt: skip


def pool_shape(pending: int, settings: RayConfig) -> tuple[int, int]:
    """The actors a pass over ``pending`` rows starts, and its rows per batch, so that every actor has work.

    ``batch_size`` bounds a batch; a pass smaller than ``actors x batches_per_actor`` full batches is cut into
    that many smaller ones instead, since an actor without a batch would leave its share of a shared endpoint's
    budgets unused (one 250-row batch on one of two actors ran at half the endpoint's rate). Fewer rows than
    actors start fewer actors, and :func:`actor_teacher` divides the budgets among those that start.
    """
    actors = max(1, min(settings.actors, pending))
    rows = max(1, min(settings.batch_size, -(-pending // (actors * settings.batches_per_actor))))
    return actors, rows
