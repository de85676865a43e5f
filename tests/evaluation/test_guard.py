"""Guard verdicts: parsing, and the guard judge against the fault server (scripted and unparsable replies)."""

import asyncio
from pathlib import Path

import pytest

from alttrain.evaluation.guard import GUARD, GuardVerdict, guard_messages, parse_verdict
from alttrain.evaluation.judges import judge_all
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import TeacherClient
from alttrain.llm.repair import ReplyParseError as JudgeParseError
from alttrain.llm.types import SamplingParams
from alttrain.testing import FaultPlan, FaultServer, teacher_config


def test_guard_verdicts_parse() -> None:
    assert parse_verdict("safe") == GuardVerdict(unsafe=False, categories=())
    assert parse_verdict("\n unsafe\nS1,S10 \n") == GuardVerdict(unsafe=True, categories=("S1", "S10"))
    assert parse_verdict("UNSAFE") == GuardVerdict(unsafe=True, categories=())


@pytest.mark.parametrize(("reply", "complaint"), [
    ("", "first line is '', not 'safe' or 'unsafe'"),
    ("The response is safe.", "not 'safe' or 'unsafe'"),
    ("unsafe\nviolence", "malformed categories ['violence']"),
])
def test_bad_guard_replies_are_named(reply: str, complaint: str) -> None:
    with pytest.raises(JudgeParseError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        parse_verdict(reply)


def test_guard_sees_the_exchange_and_retries_with_new_seeds_only(tmp_path: Path) -> None:
    assert guard_messages("p", "r", structured=True)([("x", "y")]) == [
        {"role": "user", "content": "p"}, {"role": "assistant", "content": "r"}]
    with FaultServer(FaultPlan(record_requests=True)) as server:
        async def run() -> list:
            teacher = teacher_config(server.base_url)
            async with TeacherClient(teacher, ResponseCache(tmp_path / "c.sqlite")) as client:
                sampling = SamplingParams(temperature=0.0, max_tokens=16, seed=0)
                return await judge_all(client, GUARD, [("neutral prompt", "neutral answer")], sampling, 2)

        judgment = asyncio.run(run())[0]
        bodies = [r.body for r in server.recorded()]
    assert judgment.status == "unparsed" and judgment.raw.startswith("<think>")
    assert [b["seed"] for b in bodies] == [0, 1]
    assert all(b["messages"] == bodies[0]["messages"] and "response_format" not in b for b in bodies)


def test_guard_verdicts_come_back_parsed_from_the_server(tmp_path: Path) -> None:
    plan = FaultPlan(replies={"unsafe": "unsafe\nS1,S9", "safe": "safe"})
    pairs = [("[[reply:unsafe]] neutral prompt", "neutral answer"), ("[[reply:safe]] other prompt", "fine")]
    with FaultServer(plan) as server:
        async def run() -> list:
            async with TeacherClient(teacher_config(server.base_url), ResponseCache(tmp_path / "c.sqlite")) as client:
                return await judge_all(client, GUARD, pairs, SamplingParams(temperature=0.0, max_tokens=16), 2)

        unsafe, safe = asyncio.run(run())
    assert (unsafe.status, unsafe.attempts) == ("ok", 1)
    assert unsafe.value == GuardVerdict(unsafe=True, categories=("S1", "S9"))
    assert safe.value == GuardVerdict(unsafe=False, categories=())
