"""``RUN/batches.json``: the batch teacher's batches (file and batch ids, counts), failed requests and accounting.

A *round* is what one engine pass defers; it goes out as one batch, or as several *parts* when it
exceeds the service's limits per batch. The file is rewritten atomically (a temporary file, then a
rename) after every step a restart must not repeat: an input file written, uploaded, its batch created
(before any waiting), a status change, its answers ingested; a run killed at any point resumes from
it. It holds no key and no request text: ids, counts, hashes, and reasons redacted before they got here.

A damaged file stops the run with one :class:`~alttrain.errors.BatchStateError` that says how to go on:
moved aside, the file is rebuilt as the batch teacher finds the uploads and batches it created at the
endpoint (by their name and metadata) before it creates anything again.

A *session* runs until every row is built; then ``finished`` is set. The next session forgets the
failures (as an online rerun sends failed requests again) and keeps the batches, so the
``accounting`` (which the datasheet can read) covers every batch the run ever used.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from alttrain.errors import BatchStateError
from alttrain.llm.types import PermanentTeacherError, TeacherError, TransientTeacherError

STATE_VERSION = 1
#: OpenAI's batch price is half the online price; recorded as assumed unless the config says otherwise
ASSUMED_DISCOUNT = 0.5
Mode = Literal["api", "file"]  # the Batch API, or files for `vllm run-batch`


@dataclass
class BatchRecord:
    """One batch of requests (a round, or a part of one): its input file, where it went, what came back."""

    round: int
    part: int  # from 1, of ``parts``: a round over the service's limits per batch goes out as several
    parts: int
    mode: Mode
    input_file: str  # relative to the run directory
    input_sha256: str
    requests: int
    resubmitted: int = 0  # of them, requests an earlier batch left unanswered
    input_file_id: str | None = None
    batch_id: str | None = None
    status: str = "prepared"  # prepared, uploaded, then the batch's status (api); written (file)
    request_counts: dict[str, int] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[str] = field(default_factory=list)  # why a batch failed, as the service said (redacted)
    provider_usage: dict[str, int] | None = None  # the batch's token usage, where the service reports it
    output_sha256: str | None = None  # file mode: the output file ingested
    ingested: bool = False
    answered: int = 0
    failed: int = 0  # error lines and answers that were not completions
    unanswered: int = 0  # requests with no line at all (an expired, failed or cancelled batch)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def name(self) -> str:
        """``round N``, or ``round N part P/M``."""
        return f"round {self.round}" + (f" part {self.part}/{self.parts}" if self.parts > 1 else "")

    @property
    def submitted(self) -> bool:
        """Whether its requests left this machine (a batch was created, or the file was ingested)."""
        return self.batch_id is not None if self.mode == "api" else self.ingested


@dataclass
class FailedRequest:
    """A request a batch did not answer: the last reason, and how many batches it was in without an answer."""

    reason: str
    transient: bool
    submissions: int = 1


@dataclass(frozen=True)
class BatchAccounting:
    """What the batches cost: counts, tokens (from each answer's usage) and the batch discount."""

    rounds: int  # engine passes whose requests went out
    batches: int  # Batch API batches created (a round over the service's limits is several)
    requests: int  # requests submitted, resubmissions included
    resubmitted: int
    answered: int
    failed: int
    unanswered: int
    prompt_tokens: int
    completion_tokens: int
    discount: float | None  # the price cut on these tokens (None: no Batch API batch)
    discount_source: str | None  # configured, or assumed (OpenAI's 50%)
    provider_input_tokens: int | None = None  # the service's own usage count, where it reports one
    provider_output_tokens: int | None = None


class BatchState:
    """The state file of one run directory; load with :meth:`load`, persist with :meth:`save`."""

    def __init__(self, path: Path, teacher: str, endpoint: str) -> None:
        self.path = path
        self.teacher = teacher
        self.endpoint = endpoint
        self.batches: list[BatchRecord] = []
        self.failures: dict[str, FailedRequest] = {}
        self.finished = False
        self.discount: float | None = None  # the configured discount, for the accounting

    @classmethod
    def load(cls, path: Path, teacher: str, endpoint: str) -> BatchState:
        """Read ``path`` (a new state when absent); a finished session's failures are forgotten."""
        state = cls(path, teacher, endpoint)
        if path.exists():
            data = read_state(path)
            known = {f.name for f in fields(BatchRecord)}
            try:
                state.batches = [BatchRecord(**{k: v for k, v in item.items() if k in known})
                                 for item in data["batches"]]
                if not data.get("finished"):
                    state.failures = {key: FailedRequest(**item) for key, item in data.get("failures", {}).items()}
            except (KeyError, TypeError, AttributeError) as error:
                raise damaged(path, f"not a batches file ({type(error).__name__}: {error})") from None
        return state

    @staticmethod
    def mark_finished(path: Path) -> None:
        """End the session recorded at ``path`` (once its rows are written), if there is one."""
        if path.exists():
            data = read_state(path)
            data["finished"] = True
            write_atomically(path, json.dumps(data, indent=2) + "\n")

    def save(self) -> None:
        """Write the state atomically."""
        data = {
            "version": STATE_VERSION, "teacher": self.teacher, "endpoint": self.endpoint, "finished": self.finished,
            "accounting": asdict(self.accounting()), "batches": [asdict(record) for record in self.batches],
            "failures": {key: asdict(failure) for key, failure in sorted(self.failures.items())},
        }  # fmt: skip
        write_atomically(self.path, json.dumps(data, indent=2) + "\n")

    def next_round(self) -> int:
        """The number of the next round."""
        return 1 + max((record.round for record in self.batches), default=0)

    def add(self, record: BatchRecord) -> BatchRecord:
        """Append a batch (not saved yet)."""
        self.batches.append(record)
        return record

    def waiting(self, mode: Mode) -> list[BatchRecord]:
        """Batches whose answers are still to come: created (api) or written (file), not ingested."""
        return [r for r in self.batches if r.mode == mode and not r.ingested and (mode == "file" or r.batch_id)]

    def unsubmitted(self) -> list[BatchRecord]:
        """Api batches written or uploaded but without a recorded batch id."""
        return [r for r in self.batches if r.mode == "api" and r.batch_id is None]

    def drop(self, record: BatchRecord) -> None:
        """Forget a batch that was never submitted."""
        self.batches.remove(record)

    def batch_ids(self) -> set[str]:
        """Every batch id recorded."""
        return {r.batch_id for r in self.batches if r.batch_id is not None}

    def fail(self, key: str, reason: str, transient: bool) -> None:
        """Count one more batch that did not answer ``key``."""
        earlier = self.failures.get(key)
        self.failures[key] = FailedRequest(reason, transient, 1 + (earlier.submissions if earlier else 0))

    def final_failures(self, max_resubmits: int) -> dict[str, TeacherError]:
        """The requests not to submit again, with the error their rows are quarantined with."""
        final: dict[str, TeacherError] = {}
        for key, failure in self.failures.items():
            if not failure.transient:
                final[key] = PermanentTeacherError(failure.reason)
            elif failure.submissions > max_resubmits:
                final[key] = TransientTeacherError(failure.reason)
        return final

    def accounting(self) -> BatchAccounting:
        """Sum the submitted batches."""
        done = [r for r in self.batches if r.submitted]
        api = [r for r in done if r.mode == "api"]
        usage = [r.provider_usage for r in api if r.provider_usage]
        discount = (self.discount if self.discount is not None else ASSUMED_DISCOUNT) if api else None
        source = None if not api else ("configured" if self.discount is not None else "assumed")
        return BatchAccounting(
            rounds=len({(r.mode, r.round) for r in done}), batches=len(api), requests=sum(r.requests for r in done),
            resubmitted=sum(r.resubmitted for r in done), answered=sum(r.answered for r in done),
            failed=sum(r.failed for r in done), unanswered=sum(r.unanswered for r in done),
            prompt_tokens=sum(r.prompt_tokens for r in done), completion_tokens=sum(r.completion_tokens for r in done),
            discount=discount, discount_source=source,
            provider_input_tokens=sum(u.get("input_tokens", 0) for u in usage) if usage else None,
            provider_output_tokens=sum(u.get("output_tokens", 0) for u in usage) if usage else None,
        )  # fmt: skip


def read_state(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``.

    Raises:
        BatchStateError: when it is not one (cut off, edited, another file), with how to go on.

    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise damaged(path, f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except UnicodeDecodeError as error:
        raise damaged(path, f"not UTF-8 text: {error.reason} at byte {error.start}") from None
    if not isinstance(data, dict):
        raise damaged(path, f"JSON {type(data).__name__}, not an object")
    return data


def damaged(path: Path, problem: str) -> BatchStateError:
    """The error for a state file that cannot be read: what is wrong and how to go on."""
    aside = path.with_name(path.name + ".damaged")
    return BatchStateError(
        f"{path}: cannot be read: {problem}. It records the batches this run created; restore it if you kept "
        f"a copy, or move it aside (mv {path} {aside}) and run the same command again: the batch teacher then "
        "finds the uploads and batches it already created at the endpoint and creates none of them again "
        "(answers already in the cache are kept)"
    )


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (a reader sees the old or the new file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
