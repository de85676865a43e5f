"""Ask until the reply parses: the one repair loop behind synthesis, the curation judge and every evaluation judge.

Each try sends the messages the caller builds from the failed tries so far (so a caller can replay a
failed reply with its complaints, or just ask again), reads the reply with the caller's parser, and
stops at the first reply that parses. A try after a failure moves the sampling seed on (``seed + try``;
an unseeded request stays unseeded): with the same seed a teacher that repeated its reply would repeat
it again, and the cache would answer the identical request without asking.

A request that fails at the backend (:class:`~alttrain.llm.backends.base.TeacherError`, after the
client's own retries) ends the loop with status ``error``; running out of tries ends it with status
``unparsed``. Nothing is guessed: the caller decides how each outcome becomes a row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, TypeVar

from alttrain.llm.client import TeacherClient
from alttrain.llm.types import SamplingParams, TeacherError, TeacherRequest, TeacherResponse

T = TypeVar("T")
Message = dict[str, str]
ReplyStatus = Literal["ok", "unparsed", "error"]
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", flags=re.DOTALL)


class ReplyParseError(ValueError):
    """A reply that is not in the asked format; ``complaints`` says every reason, for the next try."""

    def __init__(self, complaints: list[str] | str) -> None:
        self.complaints = [complaints] if isinstance(complaints, str) else list(complaints)
        super().__init__("; ".join(self.complaints))


def read_json_object(text: str) -> dict[str, Any]:
    """Read a reply that should be one JSON object (a code fence around it is tolerated).

    Raises:
        ReplyParseError: when it is empty, not JSON, or JSON but not an object.

    """
    body = text.strip()
    fenced = _FENCE.match(body)
    body = fenced.group(1) if fenced else body
    if not body:
        raise ReplyParseError("the reply is empty")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as error:
        raise ReplyParseError(f"the reply is not valid JSON ({error.msg} at char {error.pos})") from None
    if not isinstance(data, dict):
        raise ReplyParseError(f"the reply is JSON {type(data).__name__}, not an object")
    return data


@dataclass(frozen=True)
class Failure:
    """One try whose reply did not parse: the reply text and what was wrong with it."""

    reply: str
    complaints: list[str]


#: builds a try's messages from the failed tries so far (empty on the first try)
MessageBuilder = Callable[[list[Failure]], list[Message]]


@dataclass(frozen=True)
class Reply(Generic[T]):
    """How asking ended: the parsed value (``ok``), no parsable reply (``unparsed``) or a failed request."""

    status: ReplyStatus
    value: T | None
    tries: int  # requests made, the failed one included
    responses: list[TeacherResponse]  # every answered try, in order
    failures: list[Failure]
    error: TeacherError | None = None

    @property
    def last(self) -> TeacherResponse | None:
        """The last answered reply, if any."""
        return self.responses[-1] if self.responses else None

    @property
    def complaints(self) -> list[str]:
        """What was wrong with the last reply that did not parse (empty when none failed)."""
        return self.failures[-1].complaints if self.failures else []


def try_sampling(sampling: SamplingParams, attempt: int) -> SamplingParams:
    """Sampling for the n-th try (from 0): the seed moves on after the first, an unseeded request stays so."""
    return sampling if sampling.seed is None or attempt == 0 else replace(sampling, seed=sampling.seed + attempt)


async def ask_until_parsed(
    client: TeacherClient,
    messages: MessageBuilder,
    parse: Callable[[TeacherResponse], T],
    sampling: SamplingParams,
    max_tries: int,
    *,
    json_schema: dict[str, Any] | None = None,
    record: dict[str, Any] | None = None,
) -> Reply[T]:
    """Ask through ``client`` until ``parse`` accepts a reply, at most ``max_tries`` times.

    Args:
        client: the entered teacher client (it retries transport failures itself).
        messages: builds each try's messages from the failed tries so far.
        parse: reads a reply, raising :class:`ReplyParseError` with its complaints.
        sampling: the first try's sampling (see :func:`try_sampling` for the others).
        max_tries: how many replies to read before giving up as ``unparsed``.
        json_schema: the structured output to ask for, if any.
        record: the prompt record, for backends that write from it (the template teacher).

    Raises:
        CacheMissError: from an offline client whose cache lacks a request.

    """
    responses: list[TeacherResponse] = []
    failures: list[Failure] = []
    for attempt in range(max_tries):
        request = TeacherRequest(
            messages(failures), try_sampling(sampling, attempt), record=dict(record or {}), json_schema=json_schema
        )
        try:
            response = await client.complete(request)
        except TeacherError as error:
            return Reply("error", None, attempt + 1, responses, failures, error)
        responses.append(response)
        try:
            return Reply("ok", parse(response), attempt + 1, responses, failures)
        except ReplyParseError as problem:
            failures.append(Failure(response.text, problem.complaints))
    return Reply("unparsed", None, max_tries, responses, failures)
