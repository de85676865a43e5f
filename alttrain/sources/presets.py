"""Presets for peer safety-reasoning datasets: each fills a column mapping, a label rule and a license.

Use one with ``kind: file`` (a downloaded copy) or ``kind: hub`` (by Hub name; ``dataset`` defaults to
the preset's Hub id where it has one). Every setting given explicitly in the source config wins over the
preset's value: ``columns`` key by key, ``label`` / ``category`` (a fixed value replaces the preset's
column), ``label_values`` value by value, ``license`` and ``source_name``.

The layouts below come from the published dataset cards, papers and repositories as read in 2025. Where a
fact could not be confirmed from them, the comment says so and the preset takes the cautious choice: a
dataset without a label column whose make-up is not documented as all harmful requires ``label:``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Label = Literal["harmful", "benign"]
PresetName = Literal["star1", "safechain", "unsafechain", "r1_act", "lrm_safety_study"]


@dataclass(frozen=True)
class Preset:
    """What a preset fills in; see the module docstring for how explicit settings override it."""

    name: str
    source_name: str
    license: str
    columns: dict[str, str]
    hub: str | None = None  # the Hub id ``kind: hub`` loads when ``dataset`` is not given
    label: Label | None = None  # one label for every row (the dataset has no label column)
    label_values: dict[str, Label] = field(default_factory=dict)  # label column value -> label
    category: str | None = None  # fixed category when the dataset has no category column
    empty_responses: tuple[str, ...] = ()  # response texts that stand for "no response"
    label_rule: str = ""  # the label rule in words, for error messages and docs


PRESETS: dict[str, Preset] = {
    # UCSC-VLAA/STAR-1 (Apache-2.0; STAR-1.json in the GitHub repo is the same records as one JSON array),
    # checked against the release (commit b493335): {id, question, response, category, source, score}, ``id``
    # a string, ``category`` a list of STAR-1's eight policy categories (300 of 1,000 rows list more than
    # one), ``score`` an object of three 0-10 judge scores, every response ``<think>...</think>answer``.
    # Every prompt is harmful (the 915 benign prompts of the paper are a separate dataset). The first listed
    # category is the row's category, all of them go to ``categories``; ``source_score`` is the lowest of the
    # three scores.
    "star1": Preset(
        name="star1",
        source_name="star1",
        license="Apache-2.0 (STAR-1)",
        hub="UCSC-VLAA/STAR-1",
        columns={"prompt": "question", "response": "response", "category": "category", "source_score": "score"},
        label="harmful",
        label_rule="every STAR-1 row is harmful",
    ),
    # UWNSL/SafeChain: {instruction, label, response}, 40,000 rows. The card's metadata states no license,
    # hence "unknown". Its prompts are WildJailbreak prompts and ``label`` carries WildJailbreak's data type;
    # the four values below are that taxonomy (not verified row by row: any other value is an error, and
    # ``label_values`` adds a mapping). The card says responses omit the opening <think> tag, so a response
    # is "reasoning</think>answer": a closing tag alone still splits the trace.
    "safechain": Preset(
        name="safechain",
        source_name="safechain",
        license="unknown (see the UWNSL/SafeChain dataset card)",
        hub="UWNSL/SafeChain",
        columns={"prompt": "instruction", "response": "response", "label": "label", "category": "label"},
        label_values={
            "vanilla_harmful": "harmful",
            "adversarial_harmful": "harmful",
            "vanilla_benign": "benign",
            "adversarial_benign": "benign",
        },
        label_rule="the label column: vanilla_/adversarial_harmful -> harmful, vanilla_/adversarial_benign -> benign",
    ),
    # raj-tomar001/UnSafeChain: {prompt, response, split_name}, configs such as "full" and "selected"; the
    # paper builds it from hard prompts whose unsafe completions were corrected. There is no label column
    # and we could not confirm that every prompt is harmful, so the label is the user's call: set
    # ``label: harmful`` (the paper's description) or map a label column. ``split_name`` becomes the
    # category (its meaning is not documented on the card; it is kept for provenance). License: Apache-2.0
    # as listed in third-party dataset surveys; not confirmed on the card itself.
    "unsafechain": Preset(
        name="unsafechain",
        source_name="unsafechain",
        license="Apache-2.0 (UnsafeChain; check the raj-tomar001/UnSafeChain dataset card)",
        hub="raj-tomar001/UnSafeChain",
        columns={"prompt": "prompt", "response": "response", "category": "split_name"},
        label_rule="UnsafeChain has no label column: set `label: harmful` (the paper's hard prompts) or map one",
    ),
    # Yeonjun/R1-Act-train: {instruction, response}, 1,000 rows (R1-Act, arXiv 2508.00324). No label column
    # and the harmful/benign make-up is not stated on the card, so ``label:`` (or a label column) is
    # required. No license is stated on the card or in github.com/yeonjun-in/R1-Act.
    "r1_act": Preset(
        name="r1_act",
        source_name="r1_act",
        license="unknown (see the Yeonjun/R1-Act-train dataset card)",
        hub="Yeonjun/R1-Act-train",
        columns={"prompt": "instruction", "response": "response"},
        category="r1_act",
        label_rule="R1-Act has no label column: set `label: harmful|benign` or map one",
    ),
    # thu-coai/LRM-Safety-Study (GitHub, not the Hub): dataset/data/sft_train_<setting>.json, each a JSON
    # array of {prompt, response, data_type}; data_type is "safety" in the six safety settings (default,
    # realsafe, improved, short, template, nocot: harmful, mostly jailbreak-wrapped prompts) and, we assume,
    # "math" in sft_train_math.json (benign). dataset/proc.py skips responses equal to "NA": they count as
    # empty. The repository states no license.
    "lrm_safety_study": Preset(
        name="lrm_safety_study",
        source_name="lrm_safety_study",
        license="unknown (the thu-coai/LRM-Safety-Study repository states none)",
        columns={"prompt": "prompt", "response": "response", "label": "data_type", "category": "data_type"},
        label_values={"safety": "harmful", "math": "benign"},
        empty_responses=("NA",),
        label_rule="the data_type column: safety -> harmful, math -> benign",
    ),
}
