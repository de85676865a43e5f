"""The resumable loop: fresh stages are skipped, a changed config or input re-runs what depends on it."""

from pathlib import Path

from alttrain.config import parse_config
from alttrain.pipeline import STAGES, is_fresh, run_stage, selected_stages
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
    assert not probe.enabled(parse_config(config()))
    with_probe = {**config(), "synthesis": {"probe": {"n": 2, "teacher": {"backend": "template"}}}}
    assert probe.enabled(parse_config(with_probe))


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
    from alttrain.config import RunConfig

    names = [stage.name for stage in STAGES]
    assert len(names) == len(set(names))
    assert all(stage.outputs and set(stage.sections) <= set(RunConfig.model_fields) for stage in STAGES)
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
