"""``executor: {kind: batch, ...}``: the options of the batch executor (:mod:`alttrain.execution.batch`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt


class BatchSettings(BaseModel):
    """The batch teacher: requests go to the Batch API of the job's teacher (or to files for `vllm run-batch`)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["batch"] = "batch"
    completion_window: Literal["24h"] = "24h"  # the only window the Batch API offers
    # a round over either limit goes out as several batches (OpenAI: 50,000 requests, 200 MB per batch)
    max_requests: PositiveInt = 50_000
    max_file_mb: float = Field(default=190.0, gt=0.0)
    poll_interval_s: float = Field(default=30.0, gt=0.0)  # between two looks at a running batch
    # times a request the batch left unanswered (a transient error line, an expired, failed or cancelled
    # batch) is submitted again before its row is quarantined as teacher_error
    max_resubmits: int = Field(default=2, ge=0)
    # rounds one run may submit before the rows still waiting are quarantined as teacher_error; None:
    # (1 + max_repair_attempts) x (1 + max_resubmits), enough for every repair of every resubmission
    max_rounds: PositiveInt | None = None
    # models an answer may name besides teacher.model and its dated snapshots (gpt-4o-2024-08-06 for
    # gpt-4o): e.g. the model behind an Azure deployment; an answer from any other is refused and re-sent
    answer_models: list[str] = Field(default_factory=list)
    # the provider's batch discount on token prices; None: OpenAI's 50%, recorded as assumed
    discount: float | None = Field(default=None, ge=0.0, lt=1.0)
