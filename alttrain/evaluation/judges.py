"""What every judge shares: the refusal heuristic's accuracy, and asking a model judge until it parses.

The heuristic (:mod:`alttrain.refusal`) judges every row; :func:`refusal_heuristic_accuracy` measures it
against pyrit's human-labelled refusal set. Model judges (:mod:`~alttrain.evaluation.strongreject`,
:mod:`~alttrain.evaluation.guard`) run through the teacher client and see the whole output, reasoning
included. A reply that does not parse is asked again, a bounded number of times (each try changes
the sampling seed, so the cache cannot hand back the same reply, and the request replays the failed
replies with their complaints where the judge takes them), then reported as ``unparsed``: never guessed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, TypeVar

import polars as pl

from alttrain.refusal import looks_like_refusal
from alttrain.synthesis.backends.base import SamplingParams, TeacherError, TeacherRequest
from alttrain.synthesis.client import TeacherClient
from alttrain.synthesis.sources import package_data

JudgeStatus = Literal["ok", "unparsed", "error"]
Message = dict[str, str]
#: builds a judge's request from the failed tries so far, as (reply, complaint) pairs
MessageBuilder = Callable[[list[tuple[str, str]]], list[Message]]
T = TypeVar("T")


class JudgeParseError(ValueError):
    """A judge reply that is not in the asked format; the message says what is wrong."""


@dataclass(frozen=True)
class ClassifierAccuracy:
    """How a binary judge agrees with human labels (positive: refusal)."""

    n: int
    true_positive: int
    false_positive: int
    true_negative: int
    false_negative: int

    @property
    def accuracy(self) -> float:
        """Share of rows judged as the humans did."""
        return (self.true_positive + self.true_negative) / self.n if self.n else float("nan")


def refusal_heuristic_accuracy() -> ClassifierAccuracy:
    """Measure the heuristic against pyrit's labelled refusal set (``human_score`` 1 = refusal).

    The file's first line is a ``# dataset_version`` comment. Its labels count a response that does
    not address the objective (off-topic) as a refusal, which a text-only heuristic cannot see.
    """
    path = package_data("pyrit", "datasets", "scorer_evals", "refusal_scorer", "refusal.csv")
    frame = pl.read_csv(path, comment_prefix="#", infer_schema_length=0)
    gold = [score.strip() == "1" for score in frame["human_score"]]
    predicted = [looks_like_refusal(text or "") for text in frame["assistant_response"]]
    pairs = list(zip(predicted, gold, strict=True))
    return ClassifierAccuracy(
        n=len(pairs),
        true_positive=sum(p and g for p, g in pairs),
        false_positive=sum(p and not g for p, g in pairs),
        true_negative=sum(not p and not g for p, g in pairs),
        false_negative=sum(not p and g for p, g in pairs),
    )


@dataclass(frozen=True)
class JudgeSpec(Generic[T]):
    """A kind of model judge: how to ask it about one exchange, how to read it, its JSON schema if any.

    ``build(prompt, response, structured)`` returns the request builder; ``structured`` says whether the
    judge answers under ``schema`` (its backend does structured output and a schema exists).
    """

    name: str
    build: Callable[[str, str, bool], MessageBuilder]
    parse: Callable[[str], T]
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class Judgment(Generic[T]):
    """One judge's outcome on one row: the parsed value when ``status`` is ``ok``."""

    status: JudgeStatus
    value: T | None
    attempts: int
    raw: str
    reason: str | None


async def ask_until_parsed(
    client: TeacherClient,
    messages: MessageBuilder,
    parse: Callable[[str], T],
    sampling: SamplingParams,
    max_attempts: int,
    json_schema: dict[str, Any] | None = None,
) -> Judgment[T]:
    """Ask a judge until its reply parses, at most ``max_attempts`` times.

    Args:
        client: the judge's teacher client (it retries transport failures itself).
        messages: builds the request from the failed tries so far, as (reply, complaint) pairs.
        parse: reads a reply, raising :class:`JudgeParseError`.
        sampling: the judge's sampling; try ``k`` uses seed ``seed + k``.
        max_attempts: how many replies to read before giving up as ``unparsed``.
        json_schema: the structured output to ask for, if any.

    """
    failures: list[tuple[str, str]] = []
    raw = ""
    for attempt in range(max_attempts):
        seed = (sampling.seed or 0) + attempt
        request = TeacherRequest(messages(failures), replace(sampling, seed=seed), json_schema=json_schema)
        try:
            raw = (await client.complete(request)).text
        except TeacherError as error:
            return Judgment("error", None, attempt + 1, raw, f"{type(error).__name__}: {error}")
        try:
            return Judgment("ok", parse(raw), attempt + 1, raw, None)
        except JudgeParseError as error:
            failures.append((raw, str(error)))
    return Judgment("unparsed", None, max_attempts, raw, failures[-1][1] if failures else None)


async def judge_all(
    client: TeacherClient,
    spec: JudgeSpec[T],
    pairs: list[tuple[str, str]],
    sampling: SamplingParams,
    max_attempts: int,
) -> list[Judgment[T]]:
    """Judge every (prompt, response) pair concurrently (the client bounds what is in flight)."""
    schema = spec.schema if spec.schema is not None and client.structured else None
    tasks = [
        ask_until_parsed(client, spec.build(prompt, response, schema is not None), spec.parse, sampling,
                         max_attempts, schema)
        for prompt, response in pairs
    ]
    return list(await asyncio.gather(*tasks))
