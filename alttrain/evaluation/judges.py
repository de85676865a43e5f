"""What every judge shares: the refusal heuristic's accuracy, and running a model judge over many rows.

The heuristic (:mod:`alttrain.refusal`) judges every row; :func:`refusal_heuristic_accuracy` measures it
against pyrit's human-labelled refusal set (shipped); its figure on XSTest's larger labelled set is the bench's
record :data:`alttrain.refusal.MEASURED_AGREEMENT`. Model judges (:mod:`~alttrain.evaluation.strongreject`,
:mod:`~alttrain.evaluation.guard`) run through the teacher client and see the whole output, reasoning
included. A reply that does not parse is asked again through :func:`alttrain.llm.repair.ask_until_parsed`
(each try moves the sampling seed on; the request replays the failed replies with their complaints
where the judge takes them), then reported as ``unparsed``: never guessed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import polars as pl

from alttrain.llm.client import TeacherClient
from alttrain.llm.repair import MessageBuilder, Reply, ask_until_parsed
from alttrain.llm.types import SamplingParams
from alttrain.prompt_sets.base import package_data
from alttrain.refusal import looks_like_refusal

JudgeStatus = Literal["ok", "unparsed", "error"]
T = TypeVar("T")


@dataclass(frozen=True)
class ClassifierAccuracy:
    """How a binary judge agrees with human labels (positive: refusal)."""

    n: int
    true_positive: int
    false_positive: int
    true_negative: int
    false_negative: int

    @classmethod
    def of(cls, predicted: list[bool], gold: list[bool]) -> ClassifierAccuracy:
        """Confusion counts of ``predicted`` against the human labels ``gold`` (positive: refusal)."""
        pairs = list(zip(predicted, gold, strict=True))
        return cls(
            n=len(pairs),
            true_positive=sum(p and g for p, g in pairs),
            false_positive=sum(p and not g for p, g in pairs),
            true_negative=sum(not p and not g for p, g in pairs),
            false_negative=sum(not p and g for p, g in pairs),
        )

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
    return ClassifierAccuracy.of(predicted, gold)


@dataclass(frozen=True)
class JudgeSpec(Generic[T]):
    """A kind of model judge: how to ask it about one exchange, how to read it, its JSON schema if any.

    ``build(prompt, response, structured)`` returns the request builder; ``structured`` says whether the
    judge answers under ``schema`` (its backend does structured output and a schema exists). ``parse``
    raises :class:`~alttrain.llm.repair.ReplyParseError`.
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


def _judgment(reply: Reply[T]) -> Judgment[T]:
    """A judge's outcome on one row, from how asking ended."""
    raw = reply.last.text if reply.last is not None else ""
    if reply.status == "error":
        return Judgment("error", None, reply.tries, raw, f"{type(reply.error).__name__}: {reply.error}")
    reason = "; ".join(reply.complaints) if reply.status == "unparsed" else None
    return Judgment(reply.status, reply.value, reply.tries, raw, reason)


async def judge_all(
    client: TeacherClient,
    spec: JudgeSpec[T],
    pairs: list[tuple[str, str]],
    sampling: SamplingParams,
    max_attempts: int,
) -> list[Judgment[T]]:
    """Judge every (prompt, response) pair concurrently (the client bounds what is in flight)."""
    schema = spec.schema if spec.schema is not None and client.structured else None
    parse = spec.parse

    async def one(prompt: str, response: str) -> Judgment[T]:
        messages = spec.build(prompt, response, schema is not None)
        reply = await ask_until_parsed(
            client, messages, lambda answer: parse(answer.text), sampling, max_attempts, json_schema=schema
        )
        return _judgment(reply)

    return list(await asyncio.gather(*(one(prompt, response) for prompt, response in pairs)))
