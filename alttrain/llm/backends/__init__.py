"""Teacher backends, each imported by name from the registry (:data:`alttrain.llm.registry.BACKENDS`)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from alttrain.llm.registry import BACKENDS

if TYPE_CHECKING:
    from alttrain.llm.backends.base import TeacherBackend


def backend_class(name: str) -> type[TeacherBackend]:
    """Import and return the backend class registered as ``name``: its capabilities, without starting it.

    Raises:
        KeyError: for a name that is not registered (configs are validated against the registry first).

    """
    module, _, attribute = BACKENDS[name].partition(":")
    return getattr(import_module(module), attribute)
