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
    # the driver works batches from the same queue as the actors (its own client, the same budgets), from the
    # start of the pass: no second of the endpoint's budget is lost while the actors start. Only for a shared
    # endpoint (an engine is never built on the driver); None: when it has a requests or tokens budget (bound by
    # concurrency alone, the driver's own batches compete with its merging: 0.82 of local against 0.95 with two
    # actors on two cores, bench/scaleout.py); false: only the actors work
    work_on_driver: bool | None = None
    node_cache_dir: Path | None = None  # node-local folder for the actors' caches; None: <tmp>/alttrain-ray
    local_cpus: PositiveInt | None = None  # the CPUs of a cluster started here (address unset); None: all
    # a fault drill (tests): one actor exits abruptly halfway through its (K+1)-th batch, once per run
    crash_after_batches: PositiveInt | None = None


def driver_works(settings: RayConfig, teacher: TeacherConfig) -> bool:
    """Whether the driver works batches too: a shared endpoint (never an engine here), and ``work_on_driver``.

    Unset, it works when the endpoint has a requests or tokens budget, which a second without a send loses.
    """
    if not backend_class(teacher.backend).shared_endpoint:
        return False
    if settings.work_on_driver is None:
        return bool(teacher.requests_per_minute or teacher.tokens_per_minute)
    return settings.work_on_driver


def actor_teacher(teacher: TeacherConfig, workers: int) -> TeacherConfig:
    """The teacher one of ``workers`` clients runs (the actors, and the driver when it works): its concurrency share.

    ``concurrency`` is an endpoint's budget: workers that share one (a backend with ``shared_endpoint``, such as
    ``openai``) get ``1/workers`` of it (at least 1), so the endpoint sees what a local run would send. Its
    ``requests_per_minute`` and ``tokens_per_minute`` stay whole: more than one worker charge them to one budget
    for the whole run (:mod:`alttrain.scaleout.budget`), so a worker with nothing to send leaves its share to the
    others. An in-process engine (``vllm``, ``local``, ``template``) is one per actor and keeps them whole.
    None of these settings is part of a cache key.
    """
    if not backend_class(teacher.backend).shared_endpoint or workers == 1:
        return teacher
    return teacher.model_copy(update={"concurrency": max(1, teacher.concurrency // workers)})


def pool_shape(pending: int, settings: RayConfig, *, driver: bool = False) -> tuple[int, int]:
    """The actors a pass over ``pending`` rows starts, and its rows per batch, so that every worker has work.

    ``batch_size`` bounds a batch; a pass smaller than ``workers x batches_per_actor`` full batches (the workers:
    the actors, and the driver when it works) is cut into that many smaller ones instead, since a worker without
    a batch would leave its share of a shared endpoint's concurrency unused (one 250-row batch on one of two
    actors ran at half the endpoint's rate). Fewer rows than actors start fewer actors.
    """
    actors = max(1, min(settings.actors, pending))
    workers = actors + driver
    rows = max(1, min(settings.batch_size, -(-pending // (workers * settings.batches_per_actor))))
    return actors, rows
