"""The rule-based template teacher: deterministic traces written from the prompt record, offline.

Zhang et al. (arXiv 2505.15404, "How Should We Enhance the Safety of Large Reasoning Models: An
Empirical Study") found that short *template* reasoning teaches safety about as well as long
distilled traces. This backend writes such traces from ``request.record`` alone:

* understanding: a paraphrase frame around the quoted request, naming the area it falls in (the request
  is the prompt itself, or the one a jailbreak wrapper carries: :func:`alttrain.wrapped.underlying_request`,
  which also decides the area, so a wrapper's wording never does);
* assessment: a per-family checklist (a few items, picked and ordered per record) leading to the
  verdict given by the record's label;
* conditional reasoning: the original worked solution (benign, rewrite mode), a short step plan
  (benign without one), or a family-specific refusal rationale with a safe alternative (harmful);
* answer: the original or reference answer (benign), or a brief refusal with a safe alternative.

Harmful rows follow the safety policy's response mode that synthesis puts in the record
(``policy_mode``, :mod:`alttrain.policy`): ``refuse`` (and no mode) as above; ``safe_complete``: a
reasoning line on helping safely and a supportive answer with where to get help (the family's
``safe_completions``, else common.yaml's), never a refusal; ``comply`` for a harmful row is not written
(the row is quarantined with the reason: this teacher writes no compliance with a harmful request).
A harmful rewrite is kept no longer than its source (original reasoning + answer against the three phases +
answer, markers left out on both sides, in curation's default token count): while it is longer, it is
written again with one checklist item, then with a shorter quote, then with the shortest variant of every
text (a source shorter than that last form, about 90 tokens, stays shorter than its rewrite).

Each row is written in its language (:func:`alttrain.languages.row_language` of the record's ``language`` and
prompt): English from ``texts/``, another language from its subfolder (``texts/zh/`` ships), whose texts are
loaded and checked on the first row in that language; a language without texts is written in English.

The harmful branch only restates what is asked and explains why it is declined: it never writes
harmful content. Texts live in YAML files (:mod:`alttrain.llm.backends.template.loader`); each slot
has several variants, chosen by a hash of (seed, record id, slot), so the output is deterministic
under the seed and 1,000 records are not 1,000 copies. The response is the JSON object of the five
fields when the request carries a ``json_schema``, else the trace text in the default
:class:`~alttrain.structure.StructureSpec` markers of the row's language (a run with custom markers should keep
``structured_output`` on, the default, since a backend is not told the run's markers).

Token counts are word counts (whitespace-separated): ``prompt_tokens`` over the request messages,
``completion_tokens`` over the five field values. There is no tokenizer behind this teacher.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict
from typing import Any

from alttrain.languages import DEFAULT_LANGUAGE, row_language
from alttrain.llm.backends.base import TeacherBackend
from alttrain.llm.backends.template.loader import TemplateTexts, language_folder, load_template_texts, texts_digest
from alttrain.llm.config import TeacherConfig, TemplateOptions
from alttrain.llm.types import PermanentTeacherError, TeacherRequest, TeacherResponse
from alttrain.measures import DEFAULT_TOKEN_PATTERN
from alttrain.structure import LABELS, Label, StructureSpec, TraceFields
from alttrain.wrapped import underlying_request

TEMPLATE_RULES_VERSION = "4"  # bump when the rules below change what a record's trace is (2: the underlying
# request; 3: the policy's modes and harmful traces fitted to their source; 4: texts per row language, the key
# holds the record's language and every language's texts: English traces are unchanged, their keys are new)
SHORT_ANSWER_CHARS = 80  # answers up to this length are also named at the end of the reasoning
FIT_QUOTE_CHARS = 60  # the quote of a harmful rewrite that would otherwise run longer than its source
_TOKENS = re.compile(DEFAULT_TOKEN_PATTERN)
_TEXT_SPEC = StructureSpec()  # markers of replies to requests without a json_schema
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")  # a space after ". ! ?", none after "。！？"
_GSM_FINAL = re.compile(r"\n?[ \t]*####[ \t]*(.+?)[ \t]*$")  # GSM8K's closing "#### <answer>" line


class TemplateBackend(TeacherBackend):
    """A deterministic teacher that writes AltTrain traces from templates (no model, no network)."""

    supports_structured_output = True
    is_model = False
    record_fields = (
        "id", "prompt", "request", "label", "category", "original_reasoning", "original_answer", "reference_answer",
        "policy_mode", "language",
    )

    @classmethod
    def key_options(cls, teacher: TeacherConfig) -> dict[str, Any]:
        """The texts (a hash of the files), the length settings, and the version of the rules in this module."""
        lengths = teacher.template.model_dump(mode="json", exclude={"texts_dir"})
        return {"texts": texts_digest(teacher.template.texts_dir), "rules": TEMPLATE_RULES_VERSION, **lengths}

    def __init__(self, teacher: TeacherConfig) -> None:
        self._model = teacher.model
        self._options = teacher.template
        self.texts = load_template_texts(teacher.template.texts_dir)
        self._texts_by_language: dict[str, TemplateTexts] = {DEFAULT_LANGUAGE: self.texts}

    def texts_for(self, language: str) -> TemplateTexts:
        """The texts of ``language`` (loaded and checked once), the English ones for a language without texts.

        Raises:
            TemplateTextError: the language's folder cannot be used (see :func:`load_template_texts`).

        """
        if language not in self._texts_by_language:
            folder = language_folder(self._options.texts_dir, language)
            self._texts_by_language[language] = load_template_texts(folder) if folder else self.texts
        return self._texts_by_language[language]

    @property
    def name(self) -> str:
        """``template:<model>``."""
        return f"template:{self._model}"

    async def complete(self, request: TeacherRequest) -> TeacherResponse:
        """Write the trace for ``request.record``: JSON of the five fields, or trace text without a schema.

        Raises:
            PermanentTeacherError: the record has no prompt or label, or is benign with no answer
                to give (neither ``original_answer`` nor ``reference_answer``).

        """
        seed = request.sampling.seed if request.sampling.seed is not None else 0
        language = row_language(request.record.get("language"), str(request.record.get("prompt") or ""))
        fields = write_trace(self.texts_for(language), request.record, seed, self._options)
        values = asdict(fields)
        if request.json_schema is not None:
            text = json.dumps(values, ensure_ascii=False)
        else:
            text = _TEXT_SPEC.render(fields, language)
        return TeacherResponse(
            text=text,
            prompt_tokens=sum(count_words(m.get("content") or "") for m in request.messages),
            completion_tokens=sum(count_words(v) for v in values.values()),
            finish_reason="stop",
        )


def count_words(text: str) -> int:
    """Whitespace-separated words: this backend's token count."""
    return len(text.split())


class _Chooser:
    """Deterministic choices for one record: a hash of (seed, record key, slot) picks each variant."""

    def __init__(self, seed: int, key: str) -> None:
        self._prefix = f"{seed}\x1f{key}\x1f"

    def _hash(self, slot: str) -> int:
        digest = hashlib.blake2b((self._prefix + slot).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    def pick(self, slot: str, variants: list[str]) -> str:
        """One variant for ``slot``."""
        return variants[self._hash(slot) % len(variants)]

    def sample(self, slot: str, items: list[str], k: int) -> list[str]:
        """``k`` distinct items for ``slot``, in a per-record order."""
        ranked = sorted(range(len(items)), key=lambda i: self._hash(f"{slot}#{i}"))
        return [items[i] for i in ranked[:k]]


class _Shortest(_Chooser):
    """The last resort of a harmful rewrite longer than its source: the shortest variant of every slot."""

    def __init__(self) -> None:
        super().__init__(0, "")

    def pick(self, slot: str, variants: list[str]) -> str:
        """The shortest variant."""
        return min(variants, key=len)

    def sample(self, slot: str, items: list[str], k: int) -> list[str]:
        """The ``k`` shortest items."""
        return sorted(items, key=len)[:k]


def write_trace(
    texts: TemplateTexts, record: dict[str, Any], seed: int, options: TemplateOptions | None = None
) -> TraceFields:
    """Write the five trace fields for one prompt record; ``options`` sets their lengths (default: the defaults).

    Raises:
        PermanentTeacherError: see :meth:`TemplateBackend.complete`; also a harmful record whose
            ``policy_mode`` is ``comply``.

    """
    prompt = str(record.get("prompt") or "").strip()
    label = record.get("label")
    if not prompt:
        raise PermanentTeacherError(f"record {record.get('id')!r} has no prompt")
    if label not in LABELS:
        raise PermanentTeacherError(f"record {record.get('id')!r} has label {label!r}, not harmful|benign")
    options = options or TemplateOptions()
    chooser = _Chooser(seed, str(record.get("id") or prompt))
    request = underlying_request(prompt, record.get("request"))
    family = texts.family_for(request, record.get("category"), label)
    if label == "harmful":
        mode = record.get("policy_mode") or "refuse"
        if mode == "comply":
            raise PermanentTeacherError(
                f"record {record.get('id')!r} is harmful with policy mode 'comply': the template teacher writes no "
                "compliance with a harmful request (use an LLM teacher, or give the category another mode)"
            )
        return _write_fitted_harmful(texts, family, request, record, chooser, options, mode == "safe_complete")
    quoted = quote(request, options.quote_max_chars[label])
    return _write_benign(texts, family, quoted, record, chooser, options)


def _write_fitted_harmful(
    texts: TemplateTexts,
    family: str,
    prompt: str,
    record: dict[str, Any],
    chooser: _Chooser,
    options: TemplateOptions,
    safe_complete: bool,
) -> TraceFields:
    """Write the harmful trace, then shorter ones while it runs longer than the record's source (if it has one)."""
    budget = source_tokens(record)
    tighter = _tighter(options)
    attempts = [(options, chooser), *((fitted, chooser) for fitted in tighter), (tighter[-1], _Shortest())]
    for fitted, picker in attempts:
        quoted = quote(prompt, fitted.quote_max_chars["harmful"])
        fields = _write_harmful(texts, family, quoted, picker, fitted, safe_complete=safe_complete)
        if budget is None or trace_tokens(fields) <= budget:
            break
    return fields


def source_tokens(record: dict[str, Any]) -> int | None:
    """Tokens of the record's original reasoning and answer (curation's default count), or None without one."""
    reasoning = str(record.get("original_reasoning") or "")
    if not reasoning.strip():
        return None
    return count_tokens(reasoning) + count_tokens(str(record.get("original_answer") or ""))


def trace_tokens(fields: TraceFields) -> int:
    """Tokens of the three phases and the answer (the markers left out, as the source's are)."""
    texts = (fields.understanding, fields.assessment, fields.reasoning, fields.answer)
    return sum(count_tokens(text) for text in texts)


def count_tokens(text: str) -> int:
    """Words and punctuation marks (:data:`~alttrain.measures.DEFAULT_TOKEN_PATTERN`), as curation counts them."""
    return len(_TOKENS.findall(text))


def _tighter(options: TemplateOptions) -> tuple[TemplateOptions, ...]:
    """Shorter settings, tried in turn while a harmful rewrite runs longer than its source."""
    one_item = options.model_copy(update={"checklist_items": {**options.checklist_items, "harmful": 1}})
    short_quote = {**options.quote_max_chars, "harmful": min(options.quote_max_chars["harmful"], FIT_QUOTE_CHARS)}
    return one_item, one_item.model_copy(update={"quote_max_chars": short_quote})


def _understanding(
    texts: TemplateTexts, label: Label, chooser: _Chooser, options: TemplateOptions, **slots: str
) -> str:
    """Restate the request: the full frame (with the stakes or the task), or the brief one."""
    if options.brief[label]:
        frame = chooser.pick("understanding", texts.common.brief_understanding[label])
        return frame.format(prompt=slots["prompt"], title=slots["title"])
    return chooser.pick("understanding", texts.common.understanding[label]).format(**slots)


def _assessment(
    texts: TemplateTexts, label: Label, title: str, checklist: list[str], chooser: _Chooser, options: TemplateOptions
) -> str:
    """Join an opener (not when brief), a few checklist items and a closer."""
    frames = texts.common.assessment[label]
    items = chooser.sample("checklist", checklist, options.checklist_items.get(label, 3))
    opener = [] if options.brief[label] else [chooser.pick("assessment.opener", frames.openers).format(title=title)]
    closer = chooser.pick("assessment.closer", frames.closers).format(title=title)
    return texts.common.sentence_joiner.join([*opener, *items, closer])


def _write_harmful(
    texts: TemplateTexts, name: str, prompt: str, chooser: _Chooser, options: TemplateOptions, *, safe_complete: bool
) -> TraceFields:
    """Restate at a high level, assess, then refuse with a safe alternative, or (``safe_complete``) help safely.

    Brief: one sentence of why not (or of how to help safely).
    """
    family = texts.harmful[name]
    stakes = chooser.pick("stakes", family.stakes)
    understanding = _understanding(texts, "harmful", chooser, options, prompt=prompt, title=family.title, stakes=stakes)
    if safe_complete:
        safe = texts.common.safe_completion
        rationale = chooser.pick("safe_reasoning", safe.reasoning)
        alternative = chooser.pick("alternative", family.alternatives)
        answer = chooser.pick("safe_answer", family.safe_completions or safe.answers).format(title=family.title)
    else:
        rationale = chooser.pick("rationale", family.rationale)
        alternative = chooser.pick("alternative", family.alternatives)
        refusal = chooser.pick("refusal", texts.common.refusal.openers).format(title=family.title)
        answer = texts.common.sentence_joiner.join([refusal, chooser.pick("offer", family.offers)])
    brief = options.brief["harmful"]
    joined = texts.common.sentence_joiner.join([rationale, alternative])
    reasoning = _SENTENCE_END.split(rationale)[0] if brief else joined
    return TraceFields(
        understanding=understanding,
        assessment=_assessment(texts, "harmful", family.title, family.checklist, chooser, options),
        verdict="harmful",
        reasoning=reasoning,
        answer=answer,
    )


def _write_benign(
    texts: TemplateTexts, name: str, prompt: str, record: dict[str, Any], chooser: _Chooser, options: TemplateOptions
) -> TraceFields:
    """Restate, assess, then the original worked solution (or a step plan) and the answer."""
    family = texts.benign[name]
    solution, marked_answer = split_final_answer(str(record.get("original_reasoning") or "").strip())
    given = record.get("original_answer") or record.get("reference_answer") or marked_answer
    answer = str(given or "").strip()
    if not answer:
        raise PermanentTeacherError(
            f"record {record.get('id')!r} is benign with no original_answer or reference_answer: "
            "the template teacher cannot answer it (use an LLM teacher for such prompts)"
        )
    plan = chooser.pick("plan", family.plans)
    steps = [chooser.pick("lead_in", family.lead_ins), solution] if solution else [plan]
    if len(answer) <= SHORT_ANSWER_CHARS and "\n" not in answer:
        steps.append(chooser.pick("conclusion", family.conclusions).format(answer=answer))
    task = chooser.pick("task", family.task)
    understanding = _understanding(texts, "benign", chooser, options, prompt=prompt, title=family.title, task=task)
    return TraceFields(
        understanding=understanding,
        assessment=_assessment(texts, "benign", family.title, family.checklist, chooser, options),
        verdict="benign",
        reasoning="\n".join(steps),
        answer=answer,
    )


def split_final_answer(reasoning: str) -> tuple[str, str | None]:
    """Split a GSM8K-style closing ``#### <answer>`` line off a worked solution."""
    match = _GSM_FINAL.search(reasoning)
    if match is None:
        return reasoning, None
    return reasoning[: match.start()].rstrip(), match.group(1)


def quote(prompt: str, max_chars: int = 400) -> str:
    """Put the prompt on one line, shortened at a word boundary past ``max_chars``."""
    flat = " ".join(prompt.split())
    if len(flat) <= max_chars:
        return flat
    return flat[:max_chars].rsplit(" ", 1)[0].rstrip(",;:") + " …"
