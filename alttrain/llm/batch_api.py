"""The OpenAI Batch API through the ``openai`` SDK: upload an input file, create a batch, poll it, download its files.

Every call goes through one ``AsyncOpenAI`` client (the SDK's own retries on for these few control
calls). Uploads and batches can be found again after a crash: an upload is named after the SHA-256 of
its content (:func:`upload_name`), so :meth:`BatchAPI.find_upload` finds one whose answer never got
recorded, and :meth:`BatchAPI.find_batch` finds a batch created from a file but never recorded. A key
refused by the service stops the run (:class:`~alttrain.errors.TeacherAccessError`); any other failure
is a :class:`~alttrain.errors.BatchError` whose message is redacted (a service may echo the key).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Collection
from pathlib import Path
from typing import TypeVar

import openai
from openai.types import Batch

from alttrain.errors import BatchError, ConfigError, TeacherAccessError
from alttrain.llm.backends.openai_backend import ACCESS_STATUSES, PLACEHOLDER_API_KEY, redact
from alttrain.llm.batch_lines import CHAT_URL, redact_line
from alttrain.llm.config import TeacherConfig

T = TypeVar("T")
#: files and batches looked through when finding an unrecorded one (the newest first)
RECENT = 100
TERMINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})


def upload_name(sha256: str) -> str:
    """The name an input file is uploaded under: its content's hash, so a lost upload can be found."""
    return f"alttrain-{sha256[:32]}.jsonl"


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
                f"synthesis.batch: the OpenAI Batch API needs an API key in ${teacher.key_variable} "
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
        """The id of a recent ``batch`` file called ``name``, if one was uploaded."""
        page = await self._call("list files", self._client.files.list(purpose="batch", limit=RECENT))
        return next((item.id for item in page.data if item.filename == name), None)

    async def upload(self, path: Path, name: str) -> str:
        """Upload ``path`` as a ``batch`` file called ``name``; return its id."""
        with path.open("rb") as handle:
            uploaded = await self._call(
                f"upload {path.name}",
                self._client.files.create(file=(name, handle, "application/jsonl"), purpose="batch"),
            )
        return uploaded.id

    async def find_batch(self, input_file_id: str, known: Collection[str]) -> Batch | None:
        """A recent batch made from ``input_file_id`` whose id is not in ``known`` (one never recorded)."""
        page = await self._call("list batches", self._client.batches.list(limit=RECENT))
        return next((b for b in page.data if b.input_file_id == input_file_id and b.id not in known), None)

    async def create(self, input_file_id: str, window: str, metadata: dict[str, str]) -> Batch:
        """Create a chat-completions batch over an uploaded file."""
        return await self._call(
            f"create a batch from {input_file_id}",
            self._client.batches.create(
                input_file_id=input_file_id,
                endpoint=CHAT_URL,
                completion_window=window,  # type: ignore[arg-type]  # a Literal in the SDK, checked by the config
                metadata=metadata,
            ),
        )

    async def retrieve(self, batch_id: str) -> Batch:
        """The batch as it is now."""
        return await self._call(f"retrieve {batch_id}", self._client.batches.retrieve(batch_id))

    async def download(self, file_id: str, path: Path, *, errors: bool = False) -> None:
        """Stream a file's lines to ``path`` (through ``path.part``: a killed download leaves no ``path``).

        The key never reaches the disk: it is replaced wherever it occurs; in an error file (``errors``)
        every text that looks like a key is too (a service may echo what it was sent). Answers are left
        as they are apart from the key itself, so a teacher's text is cached as it was written.
        """
        part = path.with_name(path.name + ".part")
        path.parent.mkdir(parents=True, exist_ok=True)

        async def stream() -> None:
            async with self._client.files.with_streaming_response.content(file_id) as response:
                with part.open("w", encoding="utf-8") as handle:
                    async for line in response.iter_lines():
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
