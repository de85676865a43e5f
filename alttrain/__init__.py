"""alttrain: safety-align reasoning models through the structure of their training data.

The Python API mirrors the command line::

    import alttrain

    config = alttrain.load_config("configs/quickstart.yaml")
    outcomes = alttrain.run(config, "runs/notebook")        # the whole loop, resumable
    alttrain.run_curation(config, Path("runs/notebook"))    # or one stage at a time

Each ``run_<stage>`` is annotated with its stage's view of the config; a :class:`RunConfig` works too (they
read its sections by attribute). Names are imported on first use, so ``import alttrain`` stays cheap.
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
    "AlttrainError": "alttrain.errors",
    "STAGES": "alttrain.pipeline",
    "run": "alttrain.pipeline",
    "run_prompts": "alttrain.sources.stage",
    "run_synthesis": "alttrain.synthesis.stage",
    "run_teacher_probe": "alttrain.synthesis.probe",
    "run_curation": "alttrain.curation.stage",
    "run_review_push": "alttrain.curation.review.stage",
    "run_review_pull": "alttrain.curation.review.stage",
    "run_datasheet": "alttrain.datasheets.stage",
    "run_training": "alttrain.training.stage",
    "run_evaluation": "alttrain.evaluation.stage",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'alttrain' has no attribute {name!r}")
    attribute = "run_pipeline" if name == "run" else name
    return getattr(importlib.import_module(_EXPORTS[name]), attribute)
