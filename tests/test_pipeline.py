"""The resumable loop: fresh stages are skipped, a changed config or input re-runs what depends on it."""

from pathlib import Path

import polars as pl
import pytest

from alttrain.config import RunConfig, parse_config
from alttrain.pipeline import STAGES, is_fresh, run_stage, selected_stages, stage_fingerprint, stage_named
from alttrain.sources.view import PromptsView
from alttrain.stage import StageContext

FAST = [s for s in STAGES if s.name in {"prompts", "synthesize", "curate", "datasheet"}]


def config(selection_n: int = 20) -> dict:
    return {
        "name": "pipe",
        "prompts": {"sources": [{"kind": "harmbench", "n": 15}, {"kind": "reasoning_gym", "size": 15}]},
        "curation": {"selection": {"n": selection_n}},
    }


def run_all(cfg: dict, run_dir: Path) -> dict[str, bool]:
    parsed = parse_config(cfg)
    return {s.name: run_stage(s, parsed, run_dir).skipped for s in FAST}


def test_second_run_skips_every_fresh_stage(tmp_path: Path) -> None:
    assert run_all(config(), tmp_path) == dict.fromkeys(["prompts", "synthesize", "curate", "datasheet"], False)
    assert run_all(config(), tmp_path) == dict.fromkeys(["prompts", "synthesize", "curate", "datasheet"], True)


def test_changed_section_reruns_that_stage_and_its_dependents(tmp_path: Path) -> None:
    run_all(config(), tmp_path)
    skipped = run_all(config(selection_n=10), tmp_path)
    assert skipped == {"prompts": True, "synthesize": True, "curate": False, "datasheet": False}


def test_missing_output_or_changed_input_content_makes_a_stage_stale(tmp_path: Path) -> None:
    run_all(config(), tmp_path)
    parsed = parse_config(config())
    curate = next(s for s in STAGES if s.name == "curate")
    assert is_fresh(curate, parsed, tmp_path)
    (tmp_path / "curation_report.json").unlink()
    assert not is_fresh(curate, parsed, tmp_path)
    run_stage(curate, parsed, tmp_path)
    synthesized = tmp_path / "synthesized.parquet"
    content = synthesized.read_bytes()
    synthesized.write_bytes(content)  # same content, new mtime: an upstream re-run that changed nothing
    assert is_fresh(curate, parsed, tmp_path)
    synthesized.write_bytes(content + b"\0")  # other content, whatever its time
    assert not is_fresh(curate, parsed, tmp_path)


def test_probe_stage_runs_only_when_configured() -> None:
    probe = next(s for s in STAGES if s.name == "teacher_probe")
    assert not probe.enabled(parse_config(config()).view(probe.view))
    with_probe = {**config(), "synthesis": {"probe": {"n": 2, "teacher": {"backend": "template"}}}}
    assert probe.enabled(parse_config(with_probe).view(probe.view))
    assert "teacher_probe" in [s.name for s in selected_stages(parse_config(with_probe))]


def test_teacher_probe_writes_its_own_synthesis(tmp_path: Path) -> None:
    cfg = parse_config({**config(), "synthesis": {"probe": {"n": 4, "teacher": {"backend": "template"}}}})
    prompts, probe = (next(s for s in STAGES if s.name == name) for name in ("prompts", "teacher_probe"))
    run_stage(prompts, cfg, tmp_path)
    result = run_stage(probe, cfg, tmp_path).result
    assert result.synthesis.rows == 4
    assert result.validity == result.synthesis.ok / 4
    assert (tmp_path / "teacher_probe" / "synthesized.parquet").exists()
    assert not (tmp_path / "synthesized.parquet").exists()  # the main synthesis is untouched


def test_python_api_mirrors_the_cli(tmp_path: Path) -> None:
    import alttrain

    cfg = alttrain.parse_config(config())
    outcomes = [alttrain.run_prompts(cfg, tmp_path), alttrain.run_synthesis(cfg, tmp_path)]
    assert outcomes[0].rows == outcomes[1].rows == 30
    from alttrain.pipeline import run_pipeline

    assert alttrain.run is run_pipeline
    assert all(callable(getattr(alttrain, name)) for name in alttrain.__all__ if name.startswith("run"))


def test_changing_the_run_seed_reruns_only_what_samples_with_it(tmp_path: Path) -> None:
    run_all(config(), tmp_path)
    skipped = run_all({**config(), "seed": 5}, tmp_path)
    assert skipped == {"prompts": True, "synthesize": True, "curate": False, "datasheet": False}


def test_stage_list_is_one_contract() -> None:
    names = [stage.name for stage in STAGES]
    assert len(names) == len(set(names))
    assert all(stage.outputs for stage in STAGES)
    parsed = parse_config(config())
    assert "review" not in [s.name for s in selected_stages(parsed)]
    assert "review" in [s.name for s in selected_stages(parsed, optional=frozenset({"review"}))]


def test_a_new_stage_runs_through_the_same_machinery(tmp_path: Path) -> None:
    """Adding a stage needs no change to the runner: a Stage value is enough."""
    from alttrain.stage import Stage

    def count_prompts(context: StageContext[PromptsView]) -> int:
        rows = len((context.run_dir / "prompts.parquet").read_bytes())
        (context.run_dir / "count.txt").write_text(str(rows))
        return rows

    extra = Stage("count", "count the prompt file's bytes", PromptsView, ("prompts.parquet",), ("count.txt",),
                  count_prompts, show=lambda console, result, cfg: None)
    parsed = parse_config(config())
    run_stage(next(s for s in STAGES if s.name == "prompts"), parsed, tmp_path)
    first = run_stage(extra, parsed, tmp_path)
    assert not first.skipped and first.result > 0
    assert run_stage(extra, parsed, tmp_path).skipped


# one change per run config field, each touching that field alone and what every reader of it reads (the run
# seed, which reaches several sections at load, has its own test above)
CHANGES = {
    "name": {"name": "renamed"},
    "structure": {"structure": {"verdict_prefix": "Judgement:"}},
    "prompts": {"prompts": {"sources": [{"kind": "harmbench", "n": 15}, {"kind": "reasoning_gym", "size": 15,
                                                                       "seed": 3}]}},
    "synthesis": {"synthesis": {"teacher": {"sampling": {"temperature": 0.2}}}},
    "curation": {"curation": {"tokenizer": {"pattern": r"\S+"}}},
    "review": {"review": {"workspace": "elsewhere"}},
    "datasheet": {"datasheet": {"pretty_name": "Other"}},
    "training": {"training": {"learning_rate": 0.5}},
    "evaluation": {"evaluation": {"system_prompt": "Answer briefly."}},
}


def changed_fields(before: RunConfig, after: RunConfig) -> set[str]:
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return {name for name in old if old[name] != new[name]}


def fingerprints(cfg: RunConfig, run_dir: Path) -> dict[str, str]:
    return {stage.name: stage_fingerprint(stage, cfg.view(stage.view), run_dir) for stage in STAGES}


def test_a_stage_reruns_exactly_when_a_section_its_view_reads_changes(tmp_path: Path) -> None:
    assert set(CHANGES) == set(RunConfig.model_fields) - {"seed"}
    base = parse_config(config())
    before = fingerprints(base, tmp_path)
    for field, change in CHANGES.items():
        changed = parse_config({**config(), **change})
        assert changed_fields(base, changed) == {field}
        after = fingerprints(changed, tmp_path)
        rerun = {stage.name for stage in STAGES if before[stage.name] != after[stage.name]}
        assert rerun == {stage.name for stage in STAGES if field in stage.sections}, field


def test_views_name_run_config_fields_and_hold_only_what_their_stage_reads() -> None:
    assert all(set(stage.sections) <= set(RunConfig.model_fields) for stage in STAGES)
    sections = {stage.name: set(stage.sections) for stage in STAGES}
    assert "prompts" in sections["eval"]  # it refuses benchmarks seeded like a training prompt source
    assert "training" not in sections["eval"]  # its base model is resolved into its own section at load
    view = parse_config(config()).view(stage_named("eval").view)
    with pytest.raises(AttributeError):
        view.training  # noqa: B018  (what a view lacks, its stage cannot read)


def test_evaluation_reruns_for_the_training_problems_seeds_only(tmp_path: Path) -> None:
    evaluation = stage_named("eval")

    def fingerprint_with(prompts: dict) -> str:
        cfg = parse_config({**config(), "prompts": {**config()["prompts"], **prompts}})
        return stage_fingerprint(evaluation, cfg.view(evaluation.view), tmp_path)

    base = fingerprint_with({})
    assert fingerprint_with({"seed": 3}) == base  # the pool's sampling seed: evaluation does not read it
    reseeded = [{"kind": "harmbench", "n": 15}, {"kind": "reasoning_gym", "size": 15, "seed": 3}]
    assert fingerprint_with({"sources": reseeded}) != base


def test_evaluation_reruns_for_training_base_model_only(tmp_path: Path) -> None:
    """The recipe of training reaches evaluation through the adapter's files; its base model through the config."""
    evaluation = stage_named("eval")

    def fingerprint_with(training: dict, **evaluation_section: object) -> str:
        cfg = parse_config({**config(), "training": training, "evaluation": evaluation_section})
        return stage_fingerprint(evaluation, cfg.view(evaluation.view), tmp_path)

    base = fingerprint_with({})
    assert fingerprint_with({"learning_rate": 0.5}) == base
    assert fingerprint_with({"model": "org/other-model"}) != base
    pinned = fingerprint_with({}, base_model="org/pinned")
    assert fingerprint_with({"model": "org/other-model"}, base_model="org/pinned") == pinned


def test_a_stage_reading_part_of_another_section_ignores_the_rest(tmp_path: Path) -> None:
    base = fingerprints(parse_config(config()), tmp_path)
    limited = fingerprints(parse_config({**config(), "synthesis": {"limit": 5}}), tmp_path)
    assert {name for name in base if base[name] != limited[name]} == {"synthesize", "teacher_probe"}
    selected = fingerprints(parse_config(config(selection_n=10)), tmp_path)
    assert {name for name in base if base[name] != selected[name]} == {"curate"}  # datasheet: its token counter only


def test_a_record_file_from_before_a_schema_change_is_stale_and_rewritten(tmp_path: Path) -> None:
    run_all(config(), tmp_path)
    prompts = tmp_path / "prompts.parquet"
    pl.read_parquet(prompts).drop("language").write_parquet(prompts)  # as an older release wrote it
    skipped = run_all(config(), tmp_path)
    assert skipped["prompts"] is False and "language" in pl.read_parquet(prompts).columns
    assert run_all(config(), tmp_path) == dict.fromkeys(["prompts", "synthesize", "curate", "datasheet"], True)
