"""The OpenAI Batch API through the ``openai`` SDK: upload an input file, create a batch, poll it, download its files.

Every call goes through one ``AsyncOpenAI`` client (the SDK's own retries on for these few control
calls). Uploads and batches can be found again after a crash or a lost ``batches.json``: an upload is
named after the SHA-256 of its content (:func:`upload_name`) and a batch carries that hash in its
metadata, so :meth:`BatchAPI.find_upload` and :meth:`BatchAPI.find_batch` look through the service's
lists, page by page, for ones never recorded. Every id the service returns is checked
(:func:`checked_id`) before alttrain sends it back in a URL or records it; none becomes a file name. A
downloaded file is split into lines at line feeds (U+000A) only. A key refused by the service stops the run
(:class:`~alttrain.errors.TeacherAccessError`); any other failure is a :class:`~alttrain.errors.BatchError`
whose message is redacted (a service may echo the key).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterable, Awaitable, Callable, Collection
from pathlib import Path
from typing import TypeVar

import openai
from openai.types import Batch

from alttrain.errors import BatchError, ConfigError, TeacherAccessError
from alttrain.execution.batch.lines import CHAT_URL, redact_line
from alttrain.llm.backends.openai_backend import ACCESS_STATUSES, PLACEHOLDER_API_KEY, redact
from alttrain.llm.config import TeacherConfig
from alttrain.llm.jsonl import stream_lines

T = TypeVar("T")
#: items asked for per page when looking through the service's files and batches (the newest first): the
#: most OpenAI answers (10,000 files, 100 batches), so a long history costs few calls
FILE_PAGE = 10_000
BATCH_PAGE = 100
#: items looked through at most (a service that pages forever cannot keep a run waiting)
MAX_LISTED = 100_000
#: what an id from the service may look like (it goes back into URLs): letters, digits, ``_``, ``.``, ``-``
SAFE_ID = re.compile(r"[A-Za-z0-9_.-]{1,200}")
TERMINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})


def upload_name(sha256: str) -> str:
    """The name an input file is uploaded under: its content's hash, so a lost upload can be found."""
    return f"alttrain-{sha256[:32]}.jsonl"


def batch_metadata(round_number: int, sha256: str) -> dict[str, str]:
    """The metadata a batch is created with: its round and its input's hash, so a lost batch can be found."""
    return {"alttrain_round": str(round_number), "alttrain_input_sha256": sha256[:32]}


def checked_id(value: str, what: str, endpoint: str) -> str:
    """``value`` when it is a plain id (:data:`SAFE_ID`, no ``..``).

    Raises:
        BatchError: for anything else (a path, a URL, an empty string): it is never sent back or recorded.

    """
    if SAFE_ID.fullmatch(value) and ".." not in value:
        return value
    raise BatchError(f"batch API at {endpoint}: returned {what} id {value[:80]!r}, which is not an id (letters, "
                     "digits, '_', '.', '-'); alttrain does not use it. Is base_url the endpoint you meant?")


class BatchAPI:
    """The Batch API of one teacher's endpoint (``teacher.base_url``, or OpenAI itself).

    Args:
        teacher: the teacher config (endpoint, key variable, timeout, retries).

    Raises:
        ConfigError: when no key is set for the default (OpenAI) endpoint.

    """

    def __init__(self, teacher: TeacherConfig) -> None:
        key = teacher.api_key()
        if key is None and teacher.base_url is None:
            raise ConfigError(
                f"executor batch: the OpenAI Batch API needs an API key in ${teacher.key_variable} "
                "(the variable is not set)"
            )
        self._teacher = teacher
        self._secrets = tuple(s for s in (key,) if s)
        self._client = openai.AsyncOpenAI(
            api_key=key or PLACEHOLDER_API_KEY,
            base_url=teacher.base_url,
            timeout=teacher.timeout_s,
            max_retries=teacher.max_retries,
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """What to redact from any text the service returns (the key)."""
        return self._secrets

    async def find_upload(self, name: str) -> str | None:
        """The id of a ``batch`` file called ``name``, if one was uploaded (looked for through every page)."""
        files = self._client.files.list(purpose="batch", limit=FILE_PAGE)
        found = await self._call("list files", _first(files, lambda item: item.filename == name))
        return None if found is None else checked_id(found.id, "file", self._teacher.endpoint)

    async def upload(self, path: Path, name: str) -> str:
        """Upload ``path`` as a ``batch`` file called ``name``; return its id."""
        with path.open("rb") as handle:
            uploaded = await self._call(
                f"upload {path.name}",
                self._client.files.create(file=(name, handle, "application/jsonl"), purpose="batch"),
            )
        return checked_id(uploaded.id, "file", self._teacher.endpoint)

    async def find_batch(self, input_file_id: str, sha256: str, known: Collection[str]) -> Batch | None:
        """A batch of these requests whose id is not in ``known`` (one never recorded), through every page.

        A batch is of these requests when it was made from ``input_file_id`` or carries their hash in
        its metadata (:func:`batch_metadata`).
        """
        tag = batch_metadata(0, sha256)["alttrain_input_sha256"]

        def ours(batch: Batch) -> bool:
            tagged = (batch.metadata or {}).get("alttrain_input_sha256") == tag
            return batch.id not in known and (batch.input_file_id == input_file_id or tagged)

        found = await self._call("list batches", _first(self._client.batches.list(limit=BATCH_PAGE), ours))
        return None if found is None else self._checked(found)

    async def create(self, input_file_id: str, window: str, metadata: dict[str, str]) -> Batch:
        """Create a chat-completions batch over an uploaded file."""
        return self._checked(await self._call(
            f"create a batch from {input_file_id}",
            self._client.batches.create(
                input_file_id=input_file_id,
                endpoint=CHAT_URL,
                completion_window=window,  # type: ignore[arg-type]  # a Literal in the SDK, checked by the config
                metadata=metadata,
            ),
        ))

    async def retrieve(self, batch_id: str) -> Batch:
        """The batch as it is now."""
        return self._checked(await self._call(f"retrieve {batch_id}", self._client.batches.retrieve(batch_id)))

    def _checked(self, batch: Batch) -> Batch:
        """``batch`` once its id and its output and error file ids are checked (:func:`checked_id`)."""
        endpoint = self._teacher.endpoint
        checked_id(batch.id, "batch", endpoint)
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id is not None:
                checked_id(file_id, "file", endpoint)
        return batch

    async def download(self, file_id: str, path: Path, *, errors: bool = False) -> None:
        """Stream a file's lines to ``path`` (through ``path.part``: a killed download leaves no ``path``).

        Lines end at line feeds (U+000A) only (:mod:`alttrain.llm.jsonl`): an answer holding U+2028 stays one line.

        The key never reaches the disk: it is replaced wherever it occurs; in an error file (``errors``)
        every text that looks like a key is too (a service may echo what it was sent). Answers are left
        as they are apart from the key itself, so a teacher's text is cached as it was written.
        """
        part = path.with_name(path.name + ".part")
        path.parent.mkdir(parents=True, exist_ok=True)

        async def stream() -> None:
            async with self._client.files.with_streaming_response.content(file_id) as response:
                with part.open("w", encoding="utf-8", newline="\n") as handle:
                    async for line in stream_lines(response.iter_bytes()):
                        handle.write((redact_line(line, self._secrets) if errors else self._unkeyed(line)) + "\n")

        await self._call(f"download {file_id}", stream())
        os.replace(part, path)

    def _unkeyed(self, text: str) -> str:
        """``text`` with the key (the exact string) replaced."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.close()

    async def _call(self, what: str, call: Awaitable[T]) -> T:
        """Await one SDK call; map its failures onto :class:`TeacherAccessError` or :class:`BatchError`."""
        endpoint = self._teacher.endpoint
        try:
            return await call
        except openai.APIStatusError as error:
            status = error.status_code
            if status in (401, 403):
                variable = self._teacher.key_variable
                key = f"the key in ${variable}" if variable else "no key (set api_key_env to the variable holding one)"
                raise TeacherAccessError(
                    f"batch API at {endpoint} answered HTTP {status} ({ACCESS_STATUSES[status]}) to '{what}': it "
                    f"refused {key}; check the key and that it is meant for this endpoint"
                ) from None
            hint = " (does this endpoint have a Batch API? for a local GPU use --export and vllm run-batch)"
            message = redact(f"HTTP {status}: {error.message}", self._secrets)
            raise BatchError(f"batch API at {endpoint}: {what}: {message}{hint if status == 404 else ''}; "
                             "rerun `alttrain synthesize` to resume") from None
        except openai.APIConnectionError as error:
            message = redact(f"{type(error).__name__}: {error.message}", self._secrets)
            resume = "rerun `alttrain synthesize` to resume"
            raise BatchError(f"batch API at {endpoint}: {what}: {message}; {resume}") from None


async def _first(items: AsyncIterable[T], wanted: Callable[[T], bool]) -> T | None:
    """The first of ``items`` that is ``wanted``, among the first :data:`MAX_LISTED` (the SDK fetches the pages)."""
    listed = 0
    async for item in items:
        if wanted(item):
            return item
        listed += 1
        if listed >= MAX_LISTED:
            break
    return None
