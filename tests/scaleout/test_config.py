"""scaleout.config: how a pass is cut into batches, who works it, and how a shared endpoint's concurrency is divided."""

import pytest

from alttrain.llm.config import TeacherConfig
from alttrain.scaleout.config import RayConfig, actor_teacher, driver_works, pool_shape


@pytest.mark.parametrize(
    ("pending", "actors", "expected"),
    [
        (250, 2, (2, 63)),  # one 512-row batch would leave an actor idle on half the budget: 4 batches of <= 63
        (10_000, 2, (2, 512)),  # a large pass keeps batch_size
        (3, 4, (3, 1)),  # fewer rows than actors: only 3 start
        (1, 1, (1, 1)),
    ],
)
def test_every_actor_gets_batches_per_actor_batches(pending: int, actors: int, expected: tuple[int, int]) -> None:
    settings = RayConfig(actors=actors, batch_size=512, batches_per_actor=2)
    started, rows = pool_shape(pending, settings)
    assert (started, rows) == expected
    batches = -(-pending // rows)
    assert batches >= min(pending, started * settings.batches_per_actor)  # enough batches for every actor


def test_the_concurrency_is_divided_among_the_workers_and_the_rate_limits_stay_whole() -> None:
    teacher = TeacherConfig(backend="openai", base_url="http://127.0.0.1:9/v1", model="m", concurrency=32,
                            requests_per_minute=600)  # fmt: skip
    started, _ = pool_shape(1, RayConfig(actors=2))
    share = actor_teacher(teacher, started)
    assert (share.concurrency, share.requests_per_minute) == (32, 600)  # one row: one actor, the whole budget
    share = actor_teacher(teacher, pool_shape(250, RayConfig(actors=2))[0])
    assert (share.concurrency, share.requests_per_minute) == (16, 600)  # the rate: one budget shared by all
    share = actor_teacher(teacher, pool_shape(250, RayConfig(actors=2), driver=True)[0] + 1)
    assert (share.concurrency, share.requests_per_minute) == (10, 600)  # two actors and the driver


def test_the_driver_works_for_a_shared_endpoint_with_a_rate_budget_and_counts_as_a_worker() -> None:
    endpoint = TeacherConfig(backend="openai", base_url="http://127.0.0.1:9/v1", model="m")
    budgeted = endpoint.model_copy(update={"requests_per_minute": 600})
    assert driver_works(RayConfig(), budgeted)  # a budget a second without a send loses
    assert not driver_works(RayConfig(), endpoint)  # bound by concurrency: the actors alone
    assert driver_works(RayConfig(work_on_driver=True), endpoint)
    assert not driver_works(RayConfig(work_on_driver=False), budgeted)
    assert not driver_works(RayConfig(), TeacherConfig(backend="template"))  # an engine is never built on the driver
    assert pool_shape(250, RayConfig(actors=2), driver=True) == (2, 42)  # 3 workers x 2 batches
