"""Modes ``self`` and ``restyle``: the model to be trained writes its own traces (ThinkSafe, DGR).

The model (``synthesis.teacher``: a checkpoint-loading backend, prompted with the training chat template) is
asked ``samples`` times per prompt, with seeds ``seed .. seed + samples - 1``: the conversation is a *nudge*
(:class:`OwnMessages`: a system message with the structure; in ``self`` mode for harmful rows a ThinkSafe-style
hint to refuse, in ``restyle`` mode the original trace to paraphrase) followed by the user's prompt as it
appears in a training example. The nudge never reaches a row: a row holds the prompt and the trace only.
With ``synthesis.prefill`` the conversation ends with an assistant message holding the structure's opening
(:attr:`~alttrain.structure.Markers.opening`, in the row's language), which the model continues (a backend that
``supports_prefill``); the sample is that opening plus the continuation. The opening is structure, not nudge:
it is part of the trace, and of the cache key, as every message is. With ``synthesis.prefill: phases`` the
harness writes every fixed string of the structure and the model each phase between them
(:mod:`alttrain.synthesis.scaffold`): the structure holds by construction, the content is the model's.

Every sample is read and validated as a teacher's reply is (:func:`~alttrain.synthesis.engine.read_trace`:
structure, verdict against the label, refusal against the policy mode, the quote); ``restyle`` also checks
that a benign answer is kept (:func:`answer_kept`). The first valid sample becomes the row; the row's
``samples`` column (JSON) records each sample's outcome (``selected``, ``valid`` but not selected,
``invalid`` with its complaints, ``error``), so ``selected + valid + invalid + error == samples`` per row.
A row without a valid sample is quarantined with every sample's reason. There are no repair turns: a
model's own trace is not a corrected one.

All requests of a pass go to the client at once (:meth:`~alttrain.llm.client.TeacherClient.complete_many`):
transformers decodes them in padded batches, vLLM all together; answers are cached under the usual key
(model, messages, sampling), so a re-run answers from the cache and loads no model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import polars as pl

from alttrain.errors import CacheMissError, ConfigError
from alttrain.execution.jobs import RowCallback
from alttrain.languages import row_language
from alttrain.llm.backends import backend_class
from alttrain.llm.client import TeacherClient
from alttrain.llm.repair import ReplyParseError
from alttrain.llm.types import SamplingParams, TeacherError, TeacherRequest, TeacherResponse
from alttrain.measures import check_answers
from alttrain.policy import Resolution, load_policy
from alttrain.records import (
    PROMPT_SCHEMA,
    SAMPLE_COLUMNS,
    STATUS_OK,
    STATUS_QUARANTINED,
    SYNTHESIZED_SCHEMA,
    read_stage,
)
from alttrain.structure import LABELS, SKELETON, SKELETONS, Markers, StructureSpec, TraceFields
from alttrain.synthesis.config import SynthesisConfig
from alttrain.synthesis.engine import (
    REASON_BAD_INPUT,
    REASON_INVALID,
    REASON_TEACHER_ERROR,
    SynthesisOutcome,
    read_trace,
)
from alttrain.synthesis.messages import PROMPTS_DIR, Message, render_template, template_version
from alttrain.synthesis.scaffold import PHASES, ScaffoldOutcome, UnfinishedTrace, write_in_phases

OwnMode = Literal["self", "restyle"]
SampleOutcome = Literal["selected", "valid", "invalid", "error"]
SAMPLE_OUTCOMES: tuple[SampleOutcome, ...] = ("selected", "valid", "invalid", "error")
#: what a sample came back as: a reply, a failure, or (prefill: phases) a trace the model left unfinished
SampleAnswer = TeacherResponse | TeacherError | UnfinishedTrace
#: the synthesized frame of modes self and restyle: the stage schema plus each row's sample outcomes
OWN_SCHEMA = {**SYNTHESIZED_SCHEMA, **SAMPLE_COLUMNS}


class OwnMessages:
    """The nudged conversations of modes ``self`` and ``restyle`` (templates ``self.j2`` and ``restyle.j2``).

    Args:
        spec: the structure the model is shown and its trace is validated against.
        mode: ``self`` or ``restyle``.
        prefill: ``True``: the assistant turn starts with the structure's opening; ``phases``: the scaffold
            (:mod:`alttrain.synthesis.scaffold`) continues the conversation phase by phase.

    """

    def __init__(self, spec: StructureSpec, mode: OwnMode, *, prefill: bool | Literal["phases"] = False) -> None:
        self._spec, self._mode, self._prefill = spec, mode, prefill
        suffix = {True: "+prefill", PHASES: "+phases"}.get(prefill, "")
        self.version = f"{mode}@{template_version(mode)}{suffix}"

    def nudged(self, record: Mapping[str, Any], policy: Resolution) -> list[Message]:
        """The nudge (a system message), the user's prompt as training frames it, with ``prefill: true`` the opening."""
        label, language = record["label"], row_language(record.get("language"), record["prompt"])
        markers = self._spec.markers(language)
        nudge = render_template(
            PROMPTS_DIR,
            self._mode,
            example=markers.render(SKELETONS.get(language, SKELETON)),
            think_open=markers.think_open,
            think_close=markers.think_close,
            verdict=f"{markers.verdict_prefix} {markers.verdict_words[label]}",
            verdict_harmful=f"{markers.verdict_prefix} {markers.verdict_words['harmful']}",
            verdict_benign=f"{markers.verdict_prefix} {markers.verdict_words['benign']}",
            label=label,
            policy=policy.category,
            policy_mode=policy.mode,
            reasoning=record.get("original_reasoning") or "",
            answer=record.get("original_answer") or "",
        )
        messages = [{"role": "system", "content": nudge}, {"role": "user", "content": record["prompt"]}]
        if self._prefill is True:
            messages.append({"role": "assistant", "content": markers.opening})
        return messages


def own_input_problem(record: Mapping[str, Any], mode: OwnMode, max_chars: int) -> str | None:
    """Why a prompt record cannot be sent in ``mode`` (quarantined without asking), or None."""
    prompt = record.get("prompt") or ""
    if not prompt.strip():
        return "empty prompt"
    if record.get("label") not in LABELS:
        return f"label {record.get('label')!r} is not one of {list(LABELS)}"
    size = len(prompt) + len(record.get("original_reasoning") or "") + len(record.get("original_answer") or "")
    if size > max_chars:
        return f"prompt and original trace are {size} characters, over synthesis.max_prompt_chars ({max_chars})"
    if mode == "restyle" and not record.get("original_reasoning"):
        return "mode 'restyle' needs a trace to paraphrase (original_reasoning, or a row of restyle_from)"
    return None


def answer_kept(record: Mapping[str, Any], fields: TraceFields) -> str | None:
    """Restyle's answer check: a benign answer still matches the reference (else the original answer), or why not.

    The check is :func:`alttrain.measures.check_answers` (a task verifier, the last number, or the text).
    """
    reference = record.get("reference_answer") or record.get("original_answer")
    if record["label"] != "benign" or not reference:
        return None
    row = {"label": "benign", "source": record.get("source") or "", "prompt": record["prompt"],
           "answer": fields.answer, "reference_answer": reference}  # fmt: skip
    checked = check_answers(pl.DataFrame([row], schema={key: pl.String() for key in row}))
    if checked["answer_correct"][0]:
        return None
    method = checked["answer_check"][0]
    return f"the final answer no longer matches the original's ({method} check against {reference!r})"


class OwnTraceSynthesizer:
    """Turns prompt records into rows of the model's own traces, ``samples`` per prompt.

    Args:
        config: the ``synthesis`` section (mode ``self`` or ``restyle``).
        spec: the structure every trace is validated against.
        client: the model's client (entered; possibly offline).

    Raises:
        ConfigError: the mode is not self/restyle, the client's backend loads no checkpoint, or prefill is asked
            of a backend that cannot continue an assistant message.

    """

    def __init__(self, config: SynthesisConfig, spec: StructureSpec, client: TeacherClient) -> None:
        if config.mode not in ("self", "restyle"):
            raise ConfigError(f"mode {config.mode!r} is written by a teacher, not by the model itself")
        if not backend_class(config.teacher.backend).supports_lora:
            raise ConfigError(f"mode {config.mode!r}: backend {config.teacher.backend!r} loads no checkpoint "
                              "of the model to be trained (use transformers or vllm)")  # fmt: skip
        if config.prefill and not backend_class(config.teacher.backend).supports_prefill:
            raise ConfigError(f"synthesis.prefill: backend {config.teacher.backend!r} cannot continue an "
                              "assistant message")  # fmt: skip
        self._config, self._spec, self._client = config, spec, client
        self._mode: OwnMode = config.mode
        self._messages = OwnMessages(spec, self._mode, prefill=config.prefill)
        self._policy = load_policy(config.policy)
        sampling = config.teacher.sampling.to_params()
        self.samplings = [_with_seed(sampling, index) for index in range(config.samples)]

    def prepare(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], list[TeacherRequest] | str]:
        """The row's base and its requests (one per sample; phases: what the scaffold continues), or why not."""
        policy = self._policy.resolve(record.get("category"), record.get("label") or "")
        row = {column: record.get(column) for column in PROMPT_SCHEMA}
        row.update(language=row_language(record.get("language"), str(record.get("prompt") or "")),
                   policy_category=policy.name, policy_mode=policy.mode, mode=self._mode,
                   teacher=self._client.identity, template_version=self._messages.version)  # fmt: skip
        problem = own_input_problem(record, self._mode, self._config.max_prompt_chars)
        if problem is not None:
            return row, problem
        messages = self._messages.nudged(record, policy)
        return row, [TeacherRequest(messages, sampling, record=dict(record)) for sampling in self.samplings]

    def select(self, row: dict[str, Any], answers: list[SampleAnswer]) -> dict[str, Any]:
        """Validate every sample, keep the first valid one; record each sample's outcome in ``samples``."""
        policy = self._policy.resolve(row.get("category"), row["label"])
        asked = (row["prompt"], row.get("request"))
        language = row["language"]
        if self._config.prefill is True:  # each sample is the opening plus the model's continuation of it
            markers = self._spec.markers(language)
            answers = [_continued(markers, answer) for answer in answers]
        chosen: tuple[TraceFields, TeacherResponse] | None = None
        outcomes: list[dict[str, Any]] = []
        for index, answer in enumerate(answers):
            outcome: SampleOutcome
            reason, tokens = None, 0
            if isinstance(answer, TeacherError):
                outcome, reason = "error", str(answer)
            elif isinstance(answer, UnfinishedTrace):  # a scaffolded sample that stopped before its answer
                outcome, reason, tokens = "invalid", answer.complaint, answer.response.completion_tokens
            else:
                tokens = answer.completion_tokens
                try:
                    fields = read_trace(answer, self._spec, row["label"], policy, asked, structured=False,
                                        language=language)
                    if self._mode == "restyle" and (problem := answer_kept(row, fields)) is not None:
                        raise ReplyParseError(problem)
                except ReplyParseError as error:
                    outcome, reason = "invalid", "; ".join(error.complaints)
                else:
                    outcome = "valid" if chosen is not None else "selected"
                    chosen = chosen or (fields, answer)
            seed = self.samplings[index].seed
            outcomes.append({"sample": index, "seed": seed, "outcome": outcome, "reason": reason,
                             "completion_tokens": tokens})  # fmt: skip
        responses = [answer.response if isinstance(answer, UnfinishedTrace) else answer
                     for answer in answers if not isinstance(answer, TeacherError)]  # fmt: skip
        row.update(
            samples=json.dumps(outcomes),
            prompt_tokens=sum(response.prompt_tokens for response in responses),
            completion_tokens=sum(response.completion_tokens for response in responses),
            attempts=len(answers),
            reasoning_content=None,
        )
        if chosen is not None:
            fields, response = chosen
            row.update(status=STATUS_OK, reason=None, understanding=fields.understanding,
                       assessment=fields.assessment, verdict=fields.verdict, reasoning=fields.reasoning,
                       answer=fields.answer, trace=self._spec.render(fields, language),
                       raw_completion=response.text)  # fmt: skip
            return row
        kind = REASON_TEACHER_ERROR if not responses else REASON_INVALID
        every = "; ".join(f"sample {o['sample']}: {o['reason']}" for o in outcomes)
        row.update(status=STATUS_QUARANTINED, raw_completion=responses[-1].text if responses else None,
                   reason=f"{kind}: none of {len(answers)} samples is valid: {every}")  # fmt: skip
        return row


def _continued(markers: Markers, answer: SampleAnswer) -> SampleAnswer:
    """A response as the opening plus its text, the model's continuation of it (a failure as it is)."""
    return replace(answer, text=markers.continued(answer.text)) if isinstance(answer, TeacherResponse) else answer


def _with_seed(sampling: SamplingParams, index: int) -> SamplingParams:
    """The n-th sample's sampling: seed + n (an unseeded request draws its own samples)."""
    return sampling if sampling.seed is None else replace(sampling, seed=sampling.seed + index)


def sample_counts(frame: pl.DataFrame) -> dict[str, int]:
    """Samples by outcome over a synthesized frame (empty without a ``samples`` column: the teacher modes)."""
    counts = dict.fromkeys(SAMPLE_OUTCOMES, 0)
    if "samples" not in frame.columns:
        return {}
    for samples in frame["samples"].drop_nulls().to_list():
        for sample in json.loads(samples):
            counts[sample["outcome"]] += 1
    return counts


def restyle_sources(prompts: pl.DataFrame, earlier: Path) -> pl.DataFrame:
    """Prompts whose trace to paraphrase is an earlier synthesis's ok trace (by id); rows it lacks get none.

    Raises:
        MissingInputError: ``earlier`` is not there.
        SchemaError: it is not a synthesized file.

    """
    traces = read_stage(earlier, "synthesized").filter(pl.col("status") == STATUS_OK)
    traces = traces.select("id", pl.col("trace").alias("_trace"), pl.col("answer").alias("_answer"))
    joined = prompts.join(traces, on="id", how="left")
    return joined.with_columns(
        pl.col("_trace").alias("original_reasoning"), pl.col("_answer").alias("original_answer")
    ).drop("_trace", "_answer")


async def _answers(
    client: TeacherClient,
    prepared: list[tuple[dict[str, Any], list[TeacherRequest] | str]],
    config: SynthesisConfig,
    spec: StructureSpec,
) -> list[ScaffoldOutcome]:
    """Every sample's answer, in order: one request each, or with ``prefill: phases`` the scaffold's steps."""
    asked = [(row, request) for row, requests in prepared if not isinstance(requests, str) for request in requests]
    if config.prefill != PHASES:
        return list(await client.complete_many([request for _, request in asked]))
    return await write_in_phases(client, [request for _, request in asked],
                                 [spec.markers(row["language"]) for row, _ in asked])  # fmt: skip


def bad_input_row(row: dict[str, Any], problem: str) -> dict[str, Any]:
    """A row quarantined before asking (no samples made)."""
    row.update(status=STATUS_QUARANTINED, reason=f"{REASON_BAD_INPUT}: {problem}", samples=json.dumps([]),
               prompt_tokens=0, completion_tokens=0, attempts=0)  # fmt: skip
    return row


async def synthesize_own(
    prompts: pl.DataFrame,
    config: SynthesisConfig,
    spec: StructureSpec,
    client: TeacherClient,
    on_row: RowCallback | None = None,
    *,
    partial: bool = False,
) -> SynthesisOutcome:
    """The model's own trace per prompt row (``client`` entered), every request of the pass sent together.

    Raises:
        CacheMissError: offline, naming how many rows the cache cannot answer (``partial``: left out instead).
        TeacherAccessError: the endpoint refused the run.

    """
    started = time.perf_counter()
    synthesizer = OwnTraceSynthesizer(config, spec, client)
    prepared = [synthesizer.prepare(record) for record in prompts.to_dicts()]
    answers = iter(await _answers(client, prepared, config, spec))
    rows: list[dict[str, Any]] = []
    missing: list[str] = []
    for row, asked in prepared:
        if isinstance(asked, str):
            rows.append(bad_input_row(row, asked))
        else:
            mine = [next(answers) for _ in asked]
            if any(isinstance(answer, CacheMissError) for answer in mine):
                missing.append(str(row["id"]))
                continue
            rows.append(synthesizer.select(row, mine))  # type: ignore[arg-type] - misses handled above
        if on_row is not None:
            on_row(rows[-1], client.stats)
    if missing and not partial:
        raise CacheMissError(
            f"{len(missing)} of {prompts.height} prompts have no cached response (first ids: "
            f"{', '.join(sorted(missing)[:5])}); run `alttrain synthesize` without --reparse to fill it"
        )
    frame = pl.DataFrame(rows, schema=OWN_SCHEMA)
    return SynthesisOutcome(frame=frame, stats=client.stats, elapsed_s=time.perf_counter() - started,
                            unfinished=tuple(missing))  # fmt: skip
