"""The teacher's API key, carried from the driver to the actors it starts (never shown in a repr or a log)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from alttrain.llm.config import TeacherConfig


@dataclass(frozen=True)
class DriverKey:
    """The key the driver's environment holds for a teacher, for the actors' processes to use.

    An actor's process was started by Ray, maybe on another machine, maybe before the user exported the key
    (a notebook that called ``ray.init`` first): it cannot read the driver's environment. The driver reads
    the variable once and hands it to every actor in its constructor arguments (not Ray's ``runtime_env``,
    whose variables Ray writes to its logs and shows in its state API). The value never appears in a repr.

    Attributes:
        variable: the teacher's key variable (``api_key_env``, or ``OPENAI_API_KEY`` for OpenAI itself); None: no key.
        value: its value in the driver's environment; None: unset there.

    """

    variable: str | None
    value: str | None = field(default=None, repr=False)

    @classmethod
    def of(cls, teacher: TeacherConfig) -> DriverKey:
        """The key ``teacher`` reads, as this process's environment holds it now."""
        return cls(teacher.key_variable, teacher.api_key())

    def install(self) -> None:
        """Set the variable in this (the actor's) process, over whatever the node's environment held."""
        if self.variable is not None and self.value:
            os.environ[self.variable] = self.value
