"""The ``executor:`` section a stage that sends requests declares: ``{kind: local|ray|batch, ...options}``.

The union is made from :data:`~alttrain.execution.registry.EXECUTORS` (each executor's ``settings_class``,
told apart by ``kind``). The old forms still load, each with a one-line :class:`FutureWarning`:
``executor: local|ray`` plus a ``ray:`` section, and a ``batch:`` section (synthesis).
"""

from __future__ import annotations

import warnings
from typing import Annotated, Any, Union

from pydantic import Field

from alttrain.execution.registry import EXECUTORS

#: ``executor:`` of any registered executor
ExecutorSettings = Annotated[
    Union[tuple(executor.settings_class for executor in EXECUTORS.values())],  # type: ignore[valid-type]  # noqa: UP007
    Field(discriminator="kind"),
]
#: ``executor:`` of the executors that answer while the stage waits (evaluation's generation)
InteractiveExecutorSettings = Annotated[
    Union[tuple(e.settings_class for e in EXECUTORS.values() if e.interactive)],  # type: ignore[valid-type]  # noqa: UP007
    Field(discriminator="kind"),
]


def upgrade_executor(data: Any, section: str) -> Any:
    """Map the old executor forms of a section's raw config onto ``executor: {kind: ..., ...}``, noting each once.

    Raises:
        ValueError: two forms that contradict each other (``batch:`` with ``executor: ray``; ``ray:`` beside
            the new ``executor:`` section).

    """
    if not isinstance(data, dict):
        return data
    data = dict(data)
    executor, ray, batch = data.get("executor"), data.pop("ray", None), data.pop("batch", None)
    if batch is not None:
        if executor == "ray":
            raise ValueError("executor: 'ray' runs the online engine on actors; with batch: set, leave it 'local'")
        _note(f"{section}.batch: is deprecated; write {section}.executor: {{kind: batch, ...}} with its options")
        data["executor"] = executor = {"kind": "batch", **batch}
    if isinstance(executor, str):
        options = ray if executor == "ray" and ray is not None else {}  # ray: was read with executor: ray only
        moved = ", ...} with the options of ray:" if options else "}" + ("; ray: was unused" if ray else "")
        _note(f"{section}.executor: {executor} is deprecated; write {section}.executor: {{kind: {executor}{moved}")
        data["executor"] = {"kind": executor, **options}
    elif ray is not None:
        if executor is not None:
            raise ValueError(f"{section}.ray: is the old form of the executor's options; move them into "
                             f"{section}.executor: {{kind: ray, ...}}")
        _note(f"{section}.ray: is deprecated and was unused (the executor is local); drop it, or write "
              f"{section}.executor: {{kind: ray, ...}} with its options")
    return data


_NOTED: dict[Any, Any] = {}  # the warnings registry of these notes: each is shown once per process


def _note(message: str) -> None:
    """One line on stderr about a deprecated form (``alttrain-config: FutureWarning: ...``), once per message."""
    warnings.warn_explicit(message, FutureWarning, "alttrain-config", 0, module="alttrain.config", registry=_NOTED)
