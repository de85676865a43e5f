"""alttrain: safety-align reasoning models through the structure of their training data.

The Python API mirrors the command line::

    import alttrain

    config = alttrain.load_config("configs/quickstart.yaml")
    outcomes = alttrain.run(config, "runs/notebook")        # the whole loop, resumable
    alttrain.run_curation(config, Path("runs/notebook"))    # or one stage at a time

Names are imported on first use, so ``import alttrain`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "RunConfig": "alttrain.config",
    "load_config": "alttrain.config",
    "parse_config": "alttrain.config",
    "StructureSpec": "alttrain.structure",
    "run": "alttrain.pipeline",
    "run_prompts": "alttrain.stages",
    "run_synthesis": "alttrain.stages",
    "run_teacher_probe": "alttrain.stages",
    "run_curation": "alttrain.stages",
    "run_review_push": "alttrain.stages",
    "run_review_pull": "alttrain.stages",
    "run_datasheet": "alttrain.stages",
    "run_training": "alttrain.stages",
    "run_evaluation": "alttrain.stages",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'alttrain' has no attribute {name!r}")
    attribute = "run_pipeline" if name == "run" else name
    return getattr(importlib.import_module(_EXPORTS[name]), attribute)
