"""scaleout.prepass: rows the run's cache answers whole are finished on the driver; the others carry their seeds."""

import asyncio
import json
from pathlib import Path

from alttrain.execution.jobs import ClientJob, Row, RowCallback
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import TeacherClient
from alttrain.llm.config import TeacherConfig
from alttrain.llm.types import SamplingParams, TeacherRequest, TeacherResponse
from alttrain.scaleout.prepass import prepass

TEACHER = TeacherConfig(backend="openai", model="m", base_url="http://127.0.0.1:9/v1")
SAMPLING = SamplingParams(temperature=0.0, max_tokens=8)


class TwoStepJob(ClientJob):
    """Each record asks ``first``, then ``second``: a row needs both answers (as a reply and its repair)."""

    @property
    def teacher(self) -> TeacherConfig:
        return TEACHER

    async def run(self, records: list[Row], client: TeacherClient, *, partial: bool,
                  on_row: RowCallback | None = None) -> list[Row | None]:  # fmt: skip
        return [await self._one(record, client) for record in records]

    async def _one(self, record: Row, client: TeacherClient) -> Row | None:
        texts = []
        for step in ("first", "second"):
            request = TeacherRequest([{"role": "user", "content": f"{record['id']} {step}"}], SAMPLING,
                                     record={"id": record["id"]})  # fmt: skip
            try:
                texts.append((await client.complete(request)).text)
            except Exception:  # noqa: BLE001 - a miss leaves the row unfinished, as a partial pass does
                return None
        return {"id": record["id"], "texts": texts}


def cache_answers(cache: ResponseCache, *asked: tuple[str, str]) -> None:
    """Put the answer ``<id> <step>!`` for each (id, step) in the cache under the key a client computes."""

    async def put() -> None:
        async with TeacherClient(TEACHER, cache, offline=True) as client:
            for row, step in asked:
                request = TeacherRequest([{"role": "user", "content": f"{row} {step}"}], SAMPLING, record={"id": row})
                key, request_json = client.cache_key(request)
                cache.put(key, client.identity, request_json, TeacherResponse(f"{row} {step}!"))

    asyncio.run(put())


def test_an_empty_cache_answers_nothing_and_asks_nothing(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        before = asyncio.run(prepass([{"id": "a"}, {"id": "b"}], TwoStepJob(), cache))
    assert before.rows == [None, None] and before.pending == [0, 1] and before.seeds == {}


def test_whole_rows_are_finished_and_the_others_take_their_cached_answers_along(tmp_path: Path) -> None:
    records = [{"id": "done"}, {"id": "half"}, {"id": "new"}]
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        cache_answers(cache, ("done", "first"), ("done", "second"), ("half", "first"))
        before = asyncio.run(prepass(records, TwoStepJob(), cache))
    assert before.rows == [{"id": "done", "texts": ["done first!", "done second!"]}, None, None]
    assert before.pending == [1, 2] and before.cache_hits == 2  # the finished row's two answers
    assert list(before.seeds) == ["half"]
    assert [json.loads(entry.response)["text"] for entry in before.seeds["half"]] == ["half first!"]
