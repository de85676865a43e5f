"""One typed run config: a pydantic model per stage under :class:`RunConfig`, YAML in, resolved YAML out.

It sits at the top, beside :mod:`alttrain.pipeline`: it gathers the section each stage package declares,
resolves what crosses sections at load (seeds, evaluation's base model), and cuts the view each stage
reads (:meth:`RunConfig.view`). Stages never import it.

Secrets never live here: a config names the environment variable that holds a key (``api_key_env``),
and only the name is resolved, written and fingerprinted.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alttrain.curation.config import CurationConfig
from alttrain.curation.review.config import ReviewConfig
from alttrain.datasheets.config import DatasheetConfig
from alttrain.errors import ConfigError
from alttrain.evaluation.config import EvaluationConfig
from alttrain.layout import CONFIG_FILE
from alttrain.llm.config import CheckpointOptions, TeacherConfig
from alttrain.sections import CONFIG_VERSION, describe, fingerprint, read_yaml
from alttrain.sources.pool import PromptsConfig
from alttrain.stage import StageView
from alttrain.structure import StructureSpec
from alttrain.synthesis.config import SynthesisConfig
from alttrain.training.config import TrainingConfig

V = TypeVar("V", bound=StageView)

#: evaluation fields that default to training's: the base model the models under test load, where it is
#: cached and the chat template it was trained with
EVALUATION_FROM_TRAINING = {
    "base_model": "model", "model_cache_dir": "model_cache_dir", "chat_template": "chat_template",
}

#: fields of the datasheet's distribution gap that default to training's (the same names there)
GAP_FROM_TRAINING = ("model", "model_cache_dir", "chat_template")


class RunConfig(BaseModel):
    """Everything a run needs, one section per stage."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="run", pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")  # no leading dot: never "." or ".."
    seed: int = 0
    structure: StructureSpec = Field(default_factory=StructureSpec)
    prompts: PromptsConfig
    synthesis: SynthesisConfig = Field(default_factory=SynthesisConfig)
    curation: CurationConfig = Field(default_factory=CurationConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    datasheet: DatasheetConfig = Field(default_factory=DatasheetConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)

    @model_validator(mode="after")
    def _resolve_seeds(self) -> RunConfig:
        """Give the run's ``seed`` to every section that samples and leaves its own ``seed`` out.

        This is the one place seeds are resolved: selection, training and the teacher probe then read
        their own section, so a stage's fingerprint covers exactly the seed it uses. (The prompt pool,
        dedup hashing and evaluation keep seeds of their own, independent of the run's.)
        """
        seeded = [self.curation.selection, self.training, self.synthesis.probe]
        for section in seeded:
            if section is not None and "seed" not in section.model_fields_set:
                section.seed = self.seed
        return self

    @model_validator(mode="after")
    def _resolve_evaluation_model(self) -> RunConfig:
        """Give evaluation training's base model, model cache and chat template where it leaves them out.

        Like the seeds, resolved once here: evaluation then reads only its own section.
        """
        evaluation = self.evaluation
        for own, from_training in EVALUATION_FROM_TRAINING.items():
            if own not in evaluation.model_fields_set:
                setattr(evaluation, own, getattr(self.training, from_training))
        return self

    @model_validator(mode="after")
    def _resolve_gap_model(self) -> RunConfig:
        """Give the datasheet's distribution gap training's base model, cache and template where it leaves them out."""
        gap = self.datasheet.distribution_gap
        if gap is not None:
            for field in GAP_FROM_TRAINING:
                if field not in gap.model_fields_set:
                    setattr(gap, field, getattr(self.training, field))
        return self

    @model_validator(mode="after")
    def _resolve_self_model(self) -> RunConfig:
        """Modes ``self``/``restyle`` without a ``teacher``: training's base model on the transformers backend.

        It is loaded from training's model cache and prompted with training's chat template.
        """
        synthesis, training = self.synthesis, self.training
        if synthesis.own_traces and "teacher" not in synthesis.model_fields_set:
            synthesis.teacher = TeacherConfig(
                backend="transformers",
                model=training.model,
                checkpoint=CheckpointOptions(chat_template=training.chat_template, cache_dir=training.model_cache_dir),
            )
        return self

    def view(self, view_type: type[V]) -> V:
        """The sections a stage reads, as its view (each field of ``view_type`` names a field of this config)."""
        return view_type.model_validate({name: getattr(self, name) for name in view_type.model_fields})


def parse_config(data: object, origin: str = "<config>") -> RunConfig:
    """Validate a mapping as a :class:`RunConfig`.

    Raises:
        ConfigError: naming every unknown key and wrong type.

    """
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the config must be a mapping, got {type(data).__name__}")
    data = {key: value for key, value in data.items() if key not in {"fingerprint", "config_version"}}
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe(error, origin)) from None


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML config file (a path or its string).

    Raises:
        ConfigError: when the file is missing, is not YAML, or does not validate.

    """
    path = Path(path)
    return parse_config(read_yaml(path, ConfigError, "config file"), str(path))


def write_resolved(config: RunConfig, run_dir: Path) -> Path:
    """Write the resolved config plus its fingerprint to ``run_dir/config.yaml``; return the path."""
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = {"config_version": CONFIG_VERSION, "fingerprint": fingerprint(config)}
    resolved.update(config.model_dump(mode="json"))
    path = run_dir / CONFIG_FILE
    path.write_text(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
