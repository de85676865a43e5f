"""Errors of the training stage: each is a user error the CLI prints without a traceback."""

from __future__ import annotations


class TrainingError(ValueError):
    """Base of every training-stage error a user can fix (config, data, environment)."""


class ModelSourceError(TrainingError):
    """A model that cannot be located or converted; the message says what to install or fix."""


class BackendError(TrainingError):
    """A training backend that was asked for but cannot run here."""


class TrainingDataError(TrainingError):
    """A training dataset that is missing, malformed, or has nothing left to train on."""


class ChatTemplateError(TrainingError):
    """A chat template that cannot be found or cannot render the requested data format."""


class TemplateCheckError(TrainingError):
    """The rendered, tokenized example would not train the trace; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("template check failed: " + "; ".join(problems))
