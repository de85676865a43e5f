"""The template teacher's texts: YAML files in ``texts/`` beside this module (or a user folder), loaded and checked.

Four files: ``families.yaml`` (which checklist family a prompt gets), ``harmful.yaml`` and
``benign.yaml`` (per-family checklists and phrasings), ``common.yaml`` (frames shared by every
family). Loading checks every placeholder, every family reference, every keyword pattern, that
every refusal reads as one to :func:`alttrain.refusal.looks_like_refusal` and that no safe completion
does, so a broken text folder fails at start-up with the file and key named, not halfway through a run.
A folder may hold a subfolder per language (its ISO 639-1 code: ``zh/`` ships) with the same four files,
the texts for rows in that language (:func:`language_folder`), loaded and checked the same way when the
teacher meets the first row in that language.
"""

from __future__ import annotations

import hashlib
import re
import string
from functools import cached_property
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alttrain.errors import TemplateTextError
from alttrain.refusal import looks_like_bare_refusal, looks_like_refusal
from alttrain.sections import describe, read_yaml
from alttrain.structure import Label

TEXTS_DIR = Path(__file__).with_name("texts")
Variants = Annotated[list[str], Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeywordRule(_Strict):
    """Prompts matching any pattern (case-insensitive regex) get ``family``.

    ``before_category``: the rule wins even over a category that names a family directly.
    """

    family: str
    patterns: Variants
    before_category: bool = False


class FamilyMap(_Strict):
    """How a category (and, for broad categories, the wording) picks a family: see families.yaml."""

    default_families: dict[Label, str]
    category_families: dict[str, str] = Field(default_factory=dict)
    category_fallbacks: dict[str, str] = Field(default_factory=dict)
    keyword_rules: list[KeywordRule] = Field(default_factory=list)


class HarmfulFamily(_Strict):
    """Texts for one area of harm."""

    title: str
    stakes: Variants
    checklist: Variants
    rationale: Variants
    alternatives: Variants
    offers: Variants
    safe_completions: list[str] = Field(default_factory=list)  # the answer under the safe_complete mode


class BenignFamily(_Strict):
    """Texts for one kind of benign task."""

    title: str
    task: Variants
    checklist: Variants
    lead_ins: Variants
    conclusions: Variants
    plans: Variants


class AssessmentFrames(_Strict):
    """Sentences before and after the checklist."""

    openers: Variants
    closers: Variants


class RefusalFrames(_Strict):
    """Opening sentences of a refusal answer."""

    openers: Variants


class SafeCompletionFrames(_Strict):
    """The policy's ``safe_complete`` mode: the reasoning, and answers for families without their own."""

    reasoning: Variants
    answers: Variants


class CommonTexts(_Strict):
    """Frames shared by every family."""

    understanding: dict[Label, Variants]
    brief_understanding: dict[Label, Variants]
    assessment: dict[Label, AssessmentFrames]
    refusal: RefusalFrames
    safe_completion: SafeCompletionFrames
    sentence_joiner: str = " "  # between sentences put together (Chinese: none)


class _HarmfulFile(_Strict):
    families: dict[str, HarmfulFamily]


class _BenignFile(_Strict):
    families: dict[str, BenignFamily]


# Placeholders each slot may use (anything else is a typo that would surface mid-run as a KeyError).
_ALLOWED_FIELDS: dict[str, set[str]] = {
    "understanding.harmful": {"prompt", "title", "stakes"},
    "understanding.benign": {"prompt", "title", "task"},
    "brief_understanding": {"prompt", "title"},
    "assessment": {"title"},
    "refusal": {"title"},
    "safe_completion": {"title"},
    "conclusions": {"answer"},
    "family": set(),
}


class TemplateTexts(_Strict):
    """Everything the template teacher writes from, checked for consistency."""

    family_map: FamilyMap
    harmful: dict[str, HarmfulFamily]
    benign: dict[str, BenignFamily]
    common: CommonTexts

    def family_for(self, prompt: str, category: str | None, label: Label) -> str:
        """Pick the checklist family for one prompt (resolution order: see families.yaml)."""
        table = self.harmful if label == "harmful" else self.benign
        key = (category or "").casefold()
        if label == "harmful" and (early := self._keyword_family(prompt, only_before_category=True)):
            return early
        direct = _casefold_keys(self.family_map.category_families).get(key)
        if direct in table:
            return direct
        if label == "harmful" and (matched := self._keyword_family(prompt, only_before_category=False)):
            return matched
        fallback = _casefold_keys(self.family_map.category_fallbacks).get(key)
        if fallback in table:
            return fallback
        return self.family_map.default_families[label]

    def _keyword_family(self, prompt: str, *, only_before_category: bool) -> str | None:
        """Return the family of the first keyword rule matching ``prompt``, if any."""
        for rule, patterns in zip(self.family_map.keyword_rules, self._keyword_patterns, strict=True):
            if (rule.before_category or not only_before_category) and any(p.search(prompt) for p in patterns):
                return rule.family
        return None

    @cached_property
    def _keyword_patterns(self) -> list[list[re.Pattern[str]]]:
        """Compile the keyword rules once (case-insensitive)."""
        rules = self.family_map.keyword_rules
        return [[re.compile(p, flags=re.IGNORECASE) for p in rule.patterns] for rule in rules]


def _casefold_keys(mapping: dict[str, str]) -> dict[str, str]:
    return {key.casefold(): value for key, value in mapping.items()}


M = TypeVar("M", bound=BaseModel)


def _read(folder: Path, name: str, model: type[M]) -> M:
    """Read one YAML file of the folder as ``model``; errors name the file and each bad key."""
    path = folder / name
    data = read_yaml(path, TemplateTextError, "template text file")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise TemplateTextError(describe(error, str(path))) from None


TEXT_FILES = ("families.yaml", "harmful.yaml", "benign.yaml", "common.yaml")


def language_folder(folder: Path | None, language: str) -> Path | None:
    """The subfolder of ``folder`` (default: the shipped texts) with ``language``'s texts, or None without one."""
    candidate = (folder or TEXTS_DIR) / language
    return candidate if (candidate / TEXT_FILES[0]).is_file() else None


def texts_digest(folder: Path | None = None) -> str:
    """A hash of the text files in ``folder`` (default: the shipped texts) and its language subfolders.

    New texts in any language, new cache keys.
    """
    folder = folder or TEXTS_DIR
    digest = hashlib.sha256()
    subfolders = folder.iterdir() if folder.is_dir() else iter(())
    languages = sorted(sub.name for sub in subfolders if language_folder(folder, sub.name))
    for prefix in ["", *(f"{language}/" for language in languages)]:
        for name in TEXT_FILES:
            path = folder / f"{prefix}{name}"
            entry = (prefix + name).encode()
            digest.update(entry + b"\0" + (path.read_bytes() if path.is_file() else b"<missing>") + b"\0")
    return digest.hexdigest()[:16]


def load_template_texts(folder: Path | None = None) -> TemplateTexts:
    """Load and check the texts in ``folder`` (default: the texts shipped with alttrain).

    Raises:
        TemplateTextError: a missing file, bad YAML, an unknown key, an unknown placeholder, an
            unknown family, a bad keyword pattern, or a refusal that does not read as one.

    """
    folder = folder or TEXTS_DIR
    texts = TemplateTexts(
        family_map=_read(folder, "families.yaml", FamilyMap),
        harmful=_read(folder, "harmful.yaml", _HarmfulFile).families,
        benign=_read(folder, "benign.yaml", _BenignFile).families,
        common=_read(folder, "common.yaml", CommonTexts),
    )
    _check_families(texts, folder)
    _check_placeholders(texts, folder)
    _check_refusals(texts, folder)
    return texts


def _check_families(texts: TemplateTexts, folder: Path) -> None:
    """Every referenced family exists, with the right label; every pattern compiles."""
    where = folder / "families.yaml"
    tables: dict[Label, dict] = {"harmful": texts.harmful, "benign": texts.benign}
    for label in ("harmful", "benign"):
        if label not in texts.family_map.default_families:
            raise TemplateTextError(f"{where}: default_families: no family for {label!r}")
        if label not in texts.common.understanding or label not in texts.common.assessment:
            raise TemplateTextError(f"{folder / 'common.yaml'}: understanding/assessment: no {label!r} texts")
    for label, family in texts.family_map.default_families.items():
        if family not in tables[label]:
            raise TemplateTextError(f"{where}: default_families.{label}: no {label} family {family!r}")
    known = set(texts.harmful) | set(texts.benign)
    for section in ("category_families", "category_fallbacks"):
        for category, family in getattr(texts.family_map, section).items():
            if family not in known:
                raise TemplateTextError(f"{where}: {section}.{category}: unknown family {family!r}")
    for index, rule in enumerate(texts.family_map.keyword_rules):
        if rule.family not in texts.harmful:
            raise TemplateTextError(f"{where}: keyword_rules.{index}: {rule.family!r} is no harmful family")
        for pattern in rule.patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                message = f"{where}: keyword_rules.{index}: bad pattern {pattern!r} ({error})"
                raise TemplateTextError(message) from None


def _check_placeholders(texts: TemplateTexts, folder: Path) -> None:
    """Every text uses only the placeholders its slot fills."""
    slots: list[tuple[str, str, list[str]]] = []
    for label, variants in texts.common.understanding.items():
        slots.append(("common.yaml", f"understanding.{label}", variants))
    for variants in texts.common.brief_understanding.values():
        slots.append(("common.yaml", "brief_understanding", variants))
    for frames in texts.common.assessment.values():
        slots.append(("common.yaml", "assessment", [*frames.openers, *frames.closers]))
    slots.append(("common.yaml", "refusal", texts.common.refusal.openers))
    safe = texts.common.safe_completion
    slots.append(("common.yaml", "safe_completion", [*safe.reasoning, *safe.answers]))
    for name, harmful in texts.harmful.items():
        strings = [harmful.title, *harmful.stakes, *harmful.checklist, *harmful.rationale]
        strings += [*harmful.alternatives, *harmful.offers, *harmful.safe_completions]
        slots.append((f"harmful.yaml: {name}", "family", strings))
    for name, benign in texts.benign.items():
        strings = [benign.title, *benign.task, *benign.checklist, *benign.lead_ins, *benign.plans]
        slots.append((f"benign.yaml: {name}", "family", strings))
        slots.append((f"benign.yaml: {name}", "conclusions", benign.conclusions))
    for file, slot, variants in slots:
        allowed = _ALLOWED_FIELDS[slot]
        for text in variants:
            try:
                used = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
            except ValueError as error:
                message = f"{folder}/{file}: {slot}: malformed text {text!r} ({error})"
                raise TemplateTextError(message) from None
            if not used <= allowed:
                raise TemplateTextError(
                    f"{folder}/{file}: {slot}: unknown placeholder(s) {sorted(used - allowed)} in {text!r}; "
                    f"allowed here: {sorted(allowed) or 'none'}"
                )


def _check_refusals(texts: TemplateTexts, folder: Path) -> None:
    """Every refusal opener reads as a refusal for every family title; no safe completion reads as one."""
    safe = texts.common.safe_completion
    for where, text in [
        *((f"{folder}/common.yaml: safe_completion", t) for t in [*safe.reasoning, *safe.answers]),
        *((f"{folder}/harmful.yaml: {name}.safe_completions", t) for name, f in texts.harmful.items()
          for t in f.safe_completions),
    ]:
        for family in texts.harmful.values():
            if looks_like_bare_refusal(text.format(title=family.title)):
                raise TemplateTextError(
                    f"{where}: {text[:60]!r} reads as a refusal to alttrain.refusal.looks_like_bare_refusal; "
                    "a safe completion must not"
                )
    for opener in texts.common.refusal.openers:
        for family in texts.harmful.values():
            if not looks_like_refusal(opener.format(title=family.title)):
                raise TemplateTextError(
                    f"{folder}/common.yaml: refusal.openers: {opener!r} does not read as a refusal "
                    "to alttrain.refusal.looks_like_refusal"
                )
