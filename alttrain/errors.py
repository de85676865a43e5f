"""Every error a user can cause or fix, under one base: :class:`AlttrainError`.

The CLI catches that base and nothing else by name: it prints the message on one line and exits 2,
without a traceback. Anything else that escapes is a bug and keeps its traceback. Errors that are
handled inside alttrain (a teacher reply that does not parse, a request that failed and is
quarantined) are not here: they live beside the code that handles them.

Each message names what is wrong and where (the file and line, the config key, the service), and
how to fix it where that is not obvious.
"""

from __future__ import annotations


class AlttrainError(Exception):
    """An error a user can cause or fix: a config, an input, an install or a service."""


# --- config and install -------------------------------------------------------------------------


class ConfigError(AlttrainError, ValueError):
    """A config that cannot be read or validated, or a setting that cannot be used here."""


class TemplateError(ConfigError):
    """A teacher prompt template that is missing or has no version header."""


class TemplateTextError(ConfigError):
    """A template-teacher text folder (``synthesis.teacher.template.texts_dir``) that cannot be used."""


class PolicyError(ConfigError):
    """A safety policy file (``synthesis.policy``) that cannot be read or validated."""


class ReviewConfigError(ConfigError):
    """A review setting that cannot be used (no API URL or key)."""


# --- inputs -------------------------------------------------------------------------------------


class InputError(AlttrainError, ValueError):
    """Input data that cannot be used; the message names the file (and line or column) and the problem."""


class MissingInputError(AlttrainError, FileNotFoundError):
    """A file a stage reads does not exist; the message says which stage or command writes it."""


class SchemaError(InputError):
    """A stage file that does not match its record schema."""


class SourceError(InputError):
    """A prompt source that cannot be read."""


class BenchmarkError(SourceError):
    """An evaluation benchmark that cannot be loaded."""


class CurationError(InputError):
    """A curation input or setting that cannot be used (a tokenizer path, a judge without an LLM)."""


class DatasheetError(InputError):
    """Run files that cannot be documented."""


class ReviewDataError(InputError):
    """Curated rows that cannot be sent for review; the message names the ids."""


class CacheMissError(AlttrainError, LookupError):
    """A re-parse asked the response cache for an answer it does not hold."""


class CacheDamagedError(InputError):
    """A response cache file SQLite cannot read (truncated, overwritten); the message says how to go on."""


# --- services -----------------------------------------------------------------------------------


class ServiceError(AlttrainError, RuntimeError):
    """A service alttrain starts or reaches cannot be used (a local server, Argilla, a teacher endpoint)."""


class TeacherAccessError(ServiceError):
    """A teacher endpoint refused the run itself (a wrong key, no access, an unknown model): it stops the run."""


class LocalServerError(ServiceError):
    """The embedded teacher's server cannot start: no GGUF, no xllamacpp, or no answer in time."""


class ServerSetupError(ServiceError):
    """The local Argilla (its venv, Redis or argilla-server) cannot be set up or started."""


class ReviewError(ServiceError):
    """A review round-trip that cannot go on (server unreachable, dataset mismatch, policy); nothing written."""


# --- training -----------------------------------------------------------------------------------


class TrainingError(AlttrainError, ValueError):
    """A training config, dataset or environment that cannot be used."""


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


# --- batch teacher ------------------------------------------------------------------------------


class BatchError(ServiceError):
    """A batch service call that failed (upload, create, poll, download); rerunning resumes the recorded batches."""


class BatchStateError(InputError):
    """``RUN/batches.json`` cannot be read; the message names the file and how to go on without it."""
