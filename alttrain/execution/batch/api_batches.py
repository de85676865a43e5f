"""The Batch API path of the batch executor: the run's requests as OpenAI Batch API batches (half price, within a day).

One job builds every row, exactly as online. Each pass runs the job (for synthesis, the engine) with a
client that answers from the cache and defers every miss (:mod:`alttrain.execution.batch.rounds`):
rows whose requests are all cached are finished, every other row defers its next request (its first one,
or the repair after a bad reply). The deferred requests are a *round*: ``RUN/batch/round-NNN.jsonl``, one
line per request, ``{"custom_id": <cache key>, "method": "POST", "url": "/v1/chat/completions", "body":
<the openai backend's own body>}`` (several files and batches when a round passes ``max_requests``
or ``max_file_mb``). Each is recorded in ``RUN/batches.json``, uploaded (``files.create(purpose=
"batch")``), its batch created and the id recorded before any waiting, then polled
(:mod:`alttrain.execution.batch.poll`). The output and error files are downloaded to ``RUN/batch/``, named
after the round and a hash of the service's file id (:func:`download_path`; an id never becomes a path),
and every answer goes into the response cache under its key, so a later online run or ``--reparse`` hits
it. The next pass turns answers into rows and defers the repairs, up to the job's ``chained_requests``. A request
a batch answered with an error (an error line, a non-200 status), with a line refused as unusable or as
another model's answer, or left unanswered (an expired, failed or cancelled batch: reported, never
dropped) is resubmitted in the next round, ``max_resubmits`` times at most when the failure may
pass; then its row is quarantined ``teacher_error: <reason>``, as online. A session submits at most
``max_rounds`` rounds (by default the job's ``chained_requests`` (synthesis: 1 + ``max_repair_attempts``)
x (1 + ``max_resubmits``), enough for every repair of every resubmission); rows still waiting then are
quarantined with that reason.

Resuming: a rerun after a kill at any point first adopts any batch created but not recorded (found
through its upload, named after its content's hash: :func:`~alttrain.execution.batch.api.upload_name`), waits
for the recorded batches, and never submits again what a created batch holds. An input file written but
not submitted is reused when the same requests are pending (else written again), and so is its upload
(recorded, or found at the service by name); otherwise the file is uploaded again. Before creating a
batch it looks through the service's batches (every page) for one of the same requests, made from that
upload or carrying their hash in its metadata, that ``batches.json`` does not record, and adopts it: a
run whose ``batches.json`` was deleted pays for no batch twice.

A local GPU takes the same files through ``vllm run-batch`` (:mod:`alttrain.execution.batch.files`)::

    alttrain synthesize -c CONFIG --export
    vllm run-batch -i RUN/batch/vllm_input.jsonl -o RUN/batch/vllm_output.jsonl --model <synthesis.teacher.model>
    alttrain synthesize -c CONFIG --ingest      # repeat the last two while it reports requests waiting
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

from openai.types import Batch

from alttrain.execution.batch.api import BatchAPI, batch_metadata, upload_name
from alttrain.execution.batch.lines import input_parts
from alttrain.execution.batch.poll import wait_for
from alttrain.execution.batch.rounds import BatchRounds, BatchRun
from alttrain.execution.batch.state import BatchRecord, write_atomically
from alttrain.execution.jobs import Row
from alttrain.layout import BATCH_DIR
from alttrain.llm.backends.openai_backend import redact
from alttrain.llm.jsonl import read_lines

#: why a request of a finished batch has no line, by the batch's status
MISSING = {
    "completed": "batch {id} returned no line for it",
    "expired": "batch {id} expired before answering it",
    "cancelled": "batch {id} was cancelled before answering it",
    "failed": "batch {id} failed: {errors}",
}


class ApiBatches(BatchRounds):
    """The Batch API path: rounds of batches until every row is built."""

    async def run(self) -> BatchRun:
        """Adopt unrecorded batches, then wait, ingest, pass and submit until no request is deferred.

        A session submits at most :meth:`_round_limit` rounds; requests still deferred after them are
        quarantined ``teacher_error`` with the reason.
        """
        api = BatchAPI(self.teacher)
        try:
            await self._reconcile(api)
            rows = await self.pass_()
            rounds = 0
            while True:
                waiting = self.state.waiting("api")
                if waiting:
                    for record in waiting:
                        await self._finish(api, record)
                    rows = await self.pass_()
                elif not self.deferred:
                    return self.result(rows)
                elif rounds < self._round_limit():
                    await self._submit(api)
                    rounds += 1
                else:
                    return self.result(await self._give_up())
        finally:
            await api.aclose()

    async def _reconcile(self, api: BatchAPI) -> None:
        """Adopt batches created before an interruption but never recorded (found by their upload)."""
        for record in self.state.unsubmitted():
            file_id = record.input_file_id or await api.find_upload(upload_name(record.input_sha256))
            if file_id is None:
                continue
            record.input_file_id = file_id
            batch = await api.find_batch(file_id, record.input_sha256, self.state.batch_ids())
            if batch is not None:
                record.batch_id, record.status = batch.id, batch.status
                self.say(f"{record.name}: found {batch.id}, created before an interruption; not submitting again")
            self.state.save()

    async def _give_up(self) -> list[Row | None]:
        """Quarantine the rows of every request still deferred: this session's rounds are spent."""
        limit = self._round_limit()
        reason = (f"no answer within {limit} batch rounds (synthesis.batch.max_rounds, by default "
                  "(1 + max_repair_attempts) x (1 + max_resubmits))")
        for key in self.deferred:
            self.state.fail(key, reason, transient=False)
        self.state.save()
        self.say(f"{len(self.deferred)} requests still waiting after {limit} rounds: their rows are quarantined")
        return await self.pass_()

    async def _submit(self, api: BatchAPI) -> None:
        """Make the deferred requests a round of batches: write, upload, create, each step recorded first."""
        parts = input_parts(await self.bodies(), self.settings.max_requests, int(self.settings.max_file_mb * 1e6))
        hashes = [hashlib.sha256(text.encode()).hexdigest() for _, text in parts]
        kept: dict[str, BatchRecord] = {}
        for record in self.state.unsubmitted():
            if record.input_sha256 in hashes and record.input_sha256 not in kept:
                kept[record.input_sha256] = record
            else:
                self.say(f"{record.name} was written for other requests and never submitted: writing them anew")
                self.state.drop(record)
        number = min((r.round for r in kept.values()), default=self.state.next_round())
        for part, ((keys, text), sha) in enumerate(zip(parts, hashes, strict=True), start=1):
            record = kept.get(sha)
            if record is None:
                name = f"round-{number:03d}" + (f"-part-{part}" if len(parts) > 1 else "") + ".jsonl"
                path = self.run_dir / BATCH_DIR / name
                record = self.new_record("api", (number, part, len(parts)), path, sha, keys)
                write_atomically(path, text)
                self.state.save()
                again = f" ({record.resubmitted} resubmitted)" if record.resubmitted else ""
                self.say(f"{record.name}: {record.requests} requests{again} -> {path}")
            else:
                self.say(f"{record.name}: resuming with {record.input_file}, written before an interruption")
            await self._send(api, record)

    async def _send(self, api: BatchAPI, record: BatchRecord) -> None:
        """Upload the batch's file (or reuse its upload); create its batch unless the endpoint already has it."""
        if record.input_file_id is None:
            name = upload_name(record.input_sha256)
            found = await api.find_upload(name)
            record.input_file_id = found or await api.upload(self.run_dir / record.input_file, name)
            record.status = "uploaded"
            self.state.save()
            if found:
                self.say(f"{record.name}: reusing {found}, an earlier upload of the same requests")
            else:
                self.say(f"{record.name}: uploaded {record.input_file_id}")
        else:
            self.say(f"{record.name}: reusing the recorded upload {record.input_file_id}")
        existing = await api.find_batch(record.input_file_id, record.input_sha256, self.state.batch_ids())
        if existing is not None:  # created for these requests, but not recorded here (batches.json was lost)
            record.batch_id, record.status = existing.id, existing.status
            self.state.save()
            self.say(f"{record.name}: found {existing.id} ({existing.status}) for these requests at the endpoint, "
                     "created earlier and not recorded; not creating another")
            return
        metadata = batch_metadata(record.round, record.input_sha256)
        batch = await api.create(record.input_file_id, self.settings.completion_window, metadata)
        record.batch_id, record.status = batch.id, batch.status
        self.state.save()
        self.submitted += record.requests
        self.say(f"{record.name}: created {batch.id} ({batch.status}, window {self.settings.completion_window})")

    async def _finish(self, api: BatchAPI, record: BatchRecord) -> None:
        """Wait for a batch, download what it returned, ingest it."""
        batch = await wait_for(api, record, self.settings.poll_interval_s, self.console, self.state.save)
        record.output_file_id, record.error_file_id = batch.output_file_id, batch.error_file_id
        usage = batch.usage
        record.provider_usage = usage.model_dump(include={"input_tokens", "output_tokens"}) if usage else None
        problems = (batch.errors.data or []) if batch.errors else []
        record.errors = [redact(f"{e.code}: {e.message}", self.secrets) for e in problems]
        paths = []
        for file_id, kind in ((batch.output_file_id, "output"), (batch.error_file_id, "errors")):
            if file_id is not None:
                path = download_path(self.run_dir, record, file_id, kind)
                if not path.exists():
                    await api.download(file_id, path, errors=kind == "errors")
                paths.append(path)
        reason = MISSING.get(batch.status, MISSING["completed"]).format(id=batch.id, errors="; ".join(record.errors))
        self.ingest(record, itertools.chain.from_iterable(read_lines(path) for path in paths), reason)
        self.state.save()
        self.say(self._summary(record, batch))

    @staticmethod
    def _summary(record: BatchRecord, batch: Batch) -> str:
        """The line that reports a finished batch (and where its unanswered requests go)."""
        line = (f"{record.name} {batch.id}: {batch.status}: {record.answered} answered, {record.failed} failed, "
                f"{record.unanswered} unanswered")
        if batch.status != "completed":
            line += f" ({'; '.join(record.errors) or 'no reason given'}); unanswered requests go to the next round"
        elif record.errors:
            line += f" ({'; '.join(record.errors)}); their requests go to the next round"
        return line

    def _round_limit(self) -> int:
        """Rounds one session may submit: ``max_rounds``, or enough for every repair of every resubmission."""
        return self.settings.max_rounds or self.job.chained_requests * (1 + self.settings.max_resubmits)


def download_path(run_dir: Path, record: BatchRecord, file_id: str, kind: str) -> Path:
    """Where a batch's output or error file is kept: named after its round and a hash of the id, never the id."""
    digest = hashlib.sha256(file_id.encode()).hexdigest()[:16]
    return run_dir / BATCH_DIR / f"{Path(record.input_file).stem}-{kind}-{digest}.jsonl"

