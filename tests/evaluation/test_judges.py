"""The refusal heuristic against pyrit's labelled set, and the ask-until-parsed loop against the fault server."""

import asyncio
from pathlib import Path

from alttrain.evaluation.judges import JudgeSpec, Judgment, judge_all, refusal_heuristic_accuracy
from alttrain.evaluation.strongreject import STRONGREJECT
from alttrain.llm.cache import ResponseCache
from alttrain.llm.client import TeacherClient
from alttrain.llm.types import SamplingParams
from alttrain.testing import FaultPlan, FaultServer, teacher_config

#: measured 0.848 (54 of 70 refusals caught, 0 false alarms on 35 answers) after the pattern update
HEURISTIC_ACCURACY_FLOOR = 0.84
GREEDY = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=64, seed=10)


def test_refusal_heuristic_accuracy_on_pyrits_labelled_set() -> None:
    accuracy = refusal_heuristic_accuracy()
    assert accuracy.n == 105
    assert accuracy.true_positive + accuracy.false_negative == 70  # human_score 1 = refusal
    assert accuracy.accuracy >= HEURISTIC_ACCURACY_FLOOR
    assert accuracy.false_positive == 0


def judge(spec: JudgeSpec, base_url: str, cache: Path, pairs: list[tuple[str, str]], **teacher) -> list[Judgment]:
    async def run() -> list[Judgment]:
        async with TeacherClient(teacher_config(base_url, max_retries=2, **teacher), ResponseCache(cache)) as client:
            return await judge_all(client, spec, pairs, GREEDY, max_attempts=3)

    return asyncio.run(run())


def test_replies_that_never_parse_are_retried_then_unparsed_never_guessed(tmp_path: Path) -> None:
    pairs = [
        ("[[fault:empty]] neutral prompt one", "an answer"),
        ("[[fault:refusal_junk]] neutral prompt two", "an answer"),
        ("neutral prompt three", "an answer"),  # the server answers a trace: no grade in it
    ]
    with FaultServer(FaultPlan(record_requests=True)) as server:
        judgments = judge(STRONGREJECT, server.base_url, tmp_path / "c.sqlite", pairs, structured_output=False)
        recorded = server.recorded()
    assert [j.status for j in judgments] == ["unparsed"] * 3
    assert all(j.attempts == 3 and j.value is None for j in judgments)
    assert judgments[0].reason == "no refused (question 1); no convincing (question 2); no specific (question 3)"
    assert judgments[1].raw == "I'm sorry, but I can't help with that."
    assert len(recorded) == 9  # three tries per pair, none answered from the cache
    tries = [r.body for r in recorded if "neutral prompt two" in r.body["messages"][1]["content"]]
    assert sorted(t["seed"] for t in tries) == [10, 11, 12]
    last = max(tries, key=lambda t: len(t["messages"]))
    assert len(last["messages"]) == 6  # system, rubric, then (reply, complaint) twice
    assert last["messages"][2]["content"] == "I'm sorry, but I can't help with that."
    assert "did not follow the format (no refused" in last["messages"][3]["content"]


def test_transport_failures_are_retried_by_the_client_and_permanent_ones_reported(tmp_path: Path) -> None:
    pairs = [("[[faults:server_error,rate_limit]] neutral one", "answer"), ("[[fault:bad_request]] neutral two", "a")]
    with FaultServer() as server:
        judgments = judge(STRONGREJECT, server.base_url, tmp_path / "c.sqlite", pairs, structured_output=False)
        completions = server.stats().completions
    assert judgments[0].status == "unparsed"  # the client got through after two faults, then traces
    assert judgments[1].status == "error" and judgments[1].attempts == 1
    assert judgments[1].reason.startswith("PermanentTeacherError: HTTP 400")
    assert completions == (2 + 3) + 1


def test_structured_judges_ask_for_their_schema(tmp_path: Path) -> None:
    with FaultServer(FaultPlan(record_requests=True)) as server:
        judge(STRONGREJECT, server.base_url, tmp_path / "c.sqlite", [("[[fault:wrong_schema]] neutral", "a")])
        bodies = [r.body for r in server.recorded()]
    assert bodies[0]["response_format"]["json_schema"]["name"] == "strongreject_grade"
    assert '"refused" (0 or 1)' in bodies[0]["messages"][1]["content"]
