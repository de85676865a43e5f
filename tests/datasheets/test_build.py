"""The datasheet stage end to end, on real small runs: every number is checked against the run's files."""

import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml
from huggingface_hub import DatasetCard, DatasetCardData
from typer.testing import CliRunner

import alttrain
from alttrain.cli import app
from alttrain.datasheets.render import md

from .runs import NEUTRAL_ANSWERS, NEUTRAL_PROMPTS, SECRET, SECRET_ENV, Run, build_run

GEBRU_SECTIONS = ("## Motivation", "## Composition", "## Collection process",
                  "## Preprocessing, cleaning and labelling", "## Uses", "## Distribution", "## Maintenance")


def source_rows(run_dir: Path) -> pl.DataFrame:
    """Per-source counts computed here, independently of the datasheet code."""
    prompts = pl.read_parquet(run_dir / "prompts.parquet")
    synthesized = pl.read_parquet(run_dir / "synthesized.parquet")
    curated = pl.read_parquet(run_dir / "curated.parquet")
    rows = []
    for (source, license_), group in prompts.group_by("source", "license"):
        synth = synthesized.filter(pl.col("source") == source)
        final = curated.filter(pl.col("source") == source)
        rows.append({
            "source": source, "license": license_, "pooled": group.height,
            "ok": synth.filter(pl.col("status") == "ok").height,
            "quarantined": synth.filter(pl.col("status") != "ok").height,
            "final": final.height, "harmful": final.filter(pl.col("label") == "harmful").height,
            "benign": final.filter(pl.col("label") == "benign").height,
        })
    return pl.DataFrame(rows)


@pytest.mark.parametrize("run_name", ["template_run", "served_run"])
def test_datasheet_states_the_runs_own_numbers(run_name: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(run_name)
    text = run.result.datasheet.read_text()
    curated = pl.read_parquet(run.run_dir / "curated.parquet")
    synthesized = pl.read_parquet(run.run_dir / "synthesized.parquet")
    harmful = curated.filter(pl.col("label") == "harmful").height
    assert f"**How many instances are there?** {curated.height} in one split (`train`): {harmful} harmful" in text
    assert f"and {curated.height - harmful} benign" in text
    assert f"`en` {curated.height} ({harmful} harmful, {curated.height - harmful} benign)." in text  # per language

    expected = source_rows(run.run_dir)
    assert expected["source"].n_unique() >= 2
    for row in expected.iter_rows(named=True):
        line = (f"| {md(row['source'])} | {md(row['license'])} | {row['pooled']} | {row['ok']} | "
                f"{row['quarantined']} | {row['final']} | {row['harmful']} | {row['benign']} |")
        assert line in text, line

    prompt_tokens = int(synthesized["prompt_tokens"].sum())
    completion_tokens = int(synthesized["completion_tokens"].sum())
    assert prompt_tokens > 0 and completion_tokens > 0
    assert f"{prompt_tokens} prompt tokens and {completion_tokens} completion" in " ".join(text.split())
    attempts = int(synthesized["attempts"].sum())
    assert f"Over all {synthesized.height} synthesized rows ({attempts} attempts)" in " ".join(text.split())

    report = json.loads((run.run_dir / "curation_report.json").read_text())
    ok = synthesized.filter(pl.col("status") == "ok").height
    step = "quarantined (teacher failure or invalid structure)"
    assert f"| synthesize | {step} | {synthesized.height - ok} | {ok} |" in text
    remaining = ok
    for item in report["filters"]:
        remaining -= item["dropped"]
        assert f"| curate | filters: {item['name']} | {item['dropped']} | {remaining} |" in text
    assert f"| curate | selection | {remaining - report['selected']} | {report['selected']} |" in text
    for key in ("filters", "dedup"):
        for step in report[key]:
            for reason, rows in step["reasons"].items():
                assert f"| {key}: {step['name']} | {md(reason)} | {rows} |" in text
    assert report["selected"] == curated.height

    fingerprint = yaml.safe_load((run.run_dir / "config.yaml").read_text())["fingerprint"]
    assert f"config fingerprint `{fingerprint}`" in text
    for section in GEBRU_SECTIONS:
        assert f"\n{section}\n" in text, section
    assert "**Content warning.**" in text


def test_cost_follows_the_configured_prices(template_run: Run) -> None:
    synthesized = pl.read_parquet(template_run.run_dir / "synthesized.parquet")
    cost = synthesized["prompt_tokens"].sum() / 1e6 * 0.5 + synthesized["completion_tokens"].sum() / 1e6 * 1.5
    assert f"synthesis cost **{cost:.4f} USD**" in " ".join(template_run.result.datasheet.read_text().split())


def test_unpriced_run_states_no_cost(served_run: Run) -> None:
    text = " ".join(served_run.result.datasheet.read_text().split())
    assert "No token prices are configured" in text
    assert "synthesis cost" not in text


def test_quarantined_rows_are_counted_by_reason(served_run: Run) -> None:
    synthesized = pl.read_parquet(served_run.run_dir / "synthesized.parquet")
    quarantined = synthesized.filter(pl.col("status") == "quarantined")
    assert quarantined.height == 2  # the two prompts marked for a wrong verdict
    kinds = quarantined["reason"].str.split(":").list.first().value_counts()
    for kind, rows in kinds.iter_rows():
        assert f"| {md(kind)} | {rows} |" in served_run.result.datasheet.read_text()


def test_teacher_and_sampling_are_documented(served_run: Run) -> None:
    text = served_run.result.datasheet.read_text()
    teacher = served_run.config.synthesis.teacher
    rows = pl.read_parquet(served_run.run_dir / "synthesized.parquet").height
    assert f"| teacher (rows) | openai:fault-teacher: {rows} |" in text
    assert f"| sampling `temperature` | {teacher.sampling.temperature} |" in text
    assert re.search(r"endpoint `http://127\.0\.0\.1:\d+/v1`", text)
    assert "[needs a human]** The traces were generated by the teacher `openai:fault-teacher`" in text


def test_unrecognised_license_is_left_to_a_human(served_run: Run) -> None:
    text = served_run.result.datasheet.read_text()
    assert "**License of the dataset: mixed (MIT, unknown).**" in text
    assert "not a recognised SPDX id and must be checked before release: user-file." in text


def test_card_front_matter_loads_offline(template_run: Run) -> None:
    card = DatasetCard.load(template_run.result.card)
    rows = pl.read_parquet(template_run.run_dir / "curated.parquet").height
    assert card.data.license == ["apache-2.0", "cc-by-4.0", "mit"]
    assert card.data.size_categories == ["n<1K"] and rows < 1000
    assert card.data.task_categories == ["text-generation"]
    assert card.data.language == ["en"]
    assert card.data.configs == [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}]
    assert "safety" in card.data.tags
    front = yaml.safe_load(card.content.split("---")[1])
    assert DatasetCardData(**front).to_dict() == card.data.to_dict()
    assert "**Content warning.**" in card.text
    assert f"{rows} examples" in card.text


def test_documents_reference_every_figure_that_exists(template_run: Run) -> None:
    folder = template_run.result.datasheet.parent
    drawn = [figure for figure in template_run.result.figures if figure.path]
    assert {f.name for f in drawn} == {"funnel", "lengths", "categories", "balance", "reduction"}
    for document in (template_run.result.datasheet, template_run.result.card):
        text = document.read_text()
        for figure in drawn:
            assert f"]({figure.path})" in text
            assert (folder / figure.path).is_file()


def test_no_file_of_the_run_holds_the_api_key(served_run: Run) -> None:
    files = [path for path in served_run.run_dir.rglob("*") if path.is_file()]
    assert any(path.name == "DATASHEET.md" for path in files) and any(path.suffix == ".arrow" for path in files)
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET_ENV in served_run.config.synthesis.teacher.api_key_env


def test_review_output_becomes_the_final_dataset(template_run: Run, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(template_run.run_dir, run_dir)
    curated = pl.read_parquet(run_dir / "curated.parquet")
    reviewed = curated.slice(1).with_columns(pl.lit("accepted").alias("review_status"))
    reviewed.write_parquet(run_dir / "reviewed.parquet")
    report = {"pulled_at": "2026-11-28T10:00:00+00:00", "api_url": "http://127.0.0.1:6900", "workspace": "team",
              "records": curated.height, "reviewed": curated.height,
              "outcomes": {"accepted": reviewed.height, "rejected": 1},
              "agreement": {"multi_reviewed_records": 4, "mean_pairwise": 0.75},
              "reviewers": {"alice-reviewer": curated.height, "bob-reviewer": 4}}
    (run_dir / "review_report.json").write_text(json.dumps(report))
    result = alttrain.run_datasheet(template_run.config, run_dir)
    text = result.datasheet.read_text()
    assert result.exports.rows == reviewed.height == result.provenance.rows
    assert f"| review | rejected in human review | 1 | {reviewed.height} |" in text
    assert "| agreement.mean_pairwise | 0.75 |" in text
    assert "| outcomes.rejected | 1 |" in text
    assert "| reviewers | 2 |" in text and "2 human reviewers took part" in text
    assert "alice-reviewer" not in text and "127.0.0.1:6900" not in text
    assert "annotations_creators:\n- machine-generated\n- expert-generated" in result.card.read_text()


def test_cli_writes_and_reports(template_run: Run, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(template_run.run_dir, run_dir)
    shutil.rmtree(run_dir / "datasheet")
    shutil.rmtree(run_dir / "dataset")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(template_run.config.model_dump(mode="json")))
    result = CliRunner().invoke(app, ["datasheet", "--config", str(config), "--run-dir", str(run_dir)])
    assert result.exit_code == 0, result.output
    rows = pl.read_parquet(run_dir / "curated.parquet").height
    assert f"({rows} rows:" in " ".join(result.output.split())
    assert (run_dir / "datasheet" / "DATASHEET.md").is_file() and (run_dir / "dataset" / "hf").is_dir()


def test_cli_missing_stage_file_exits_2(template_run: Run, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(template_run.run_dir / "prompts.parquet", run_dir)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(template_run.config.model_dump(mode="json")))
    result = CliRunner().invoke(app, ["datasheet", "--config", str(config), "--run-dir", str(run_dir)])
    assert result.exit_code == 2
    assert "run `alttrain synthesize` first" in " ".join(result.output.split())
    assert not (run_dir / "datasheet").exists()


def test_filter_drops_are_explained(template_run: Run) -> None:
    report = json.loads((template_run.run_dir / "curation_report.json").read_text())
    length = next(step for step in report["filters"] if step["name"] == "length")
    assert length["dropped"] > 0 and set(length["reasons"]) == {"length:reasoning<45"}
    rejected = pl.read_parquet(template_run.run_dir / "rejected.parquet")
    assert rejected.filter(pl.col("filter_reason") == "length:reasoning<45").height == length["dropped"]
    text = template_run.result.datasheet.read_text()
    assert f"| filters: length | length:reasoning\\<45 | {length['dropped']} |" in text  # `<` escaped


def test_the_executor_that_sent_the_requests_is_documented(served_run: Run) -> None:
    text = " ".join(served_run.result.datasheet.read_text().split())
    report = json.loads((served_run.run_dir / "scaleout.json").read_text())
    assert report["executor"] == "local" and report["requests_sent"] > 0
    assert f"Executor `local`: {report['requests_sent']} requests" in text


def test_a_ray_pool_and_batches_are_documented_from_their_files(template_run: Run, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(template_run.run_dir, run_dir)
    actors = [{"actor": f"a{i}", "node": f"node{i}abcdef0123456789", "pids": [10 + i, 20 + i][: i + 1], "rows": 7 + i,
               "sent": 9 + i, "restarts": i} for i in range(2)]  # fmt: skip
    scaleout = {"stage": "synthesize", "executor": "ray", "rows": 15, "requests_sent": 19, "elapsed_s": 12.34,
                "actors": 2, "per_actor": actors}
    (run_dir / "scaleout.json").write_text(json.dumps(scaleout))
    accounting = {"rounds": 2, "batches": 3, "requests": 20, "resubmitted": 1, "answered": 18, "failed": 1,
                  "unanswered": 1, "prompt_tokens": 1234, "completion_tokens": 567, "discount": 0.5,
                  "discount_source": "assumed (OpenAI's 50%)"}
    batches = {"accounting": accounting, "batches": [{"batch_id": "batch_x1"}, {"batch_id": None},
                                                     {"batch_id": "batch_x2"}]}
    (run_dir / "batches.json").write_text(json.dumps(batches))
    text = " ".join(alttrain.run_datasheet(template_run.config, run_dir).datasheet.read_text().split())
    assert "Executor `ray`: 19 requests in 12.3 s on a pool of 2 actors" in text
    assert "| 1 | `node0abcdef0` | 7 | 9 | 0 |" in text and "| 2 | `node1abcdef0` | 8 | 10 | 1 |" in text
    assert "3 batches in 2 rounds (20 requests, 1 resubmitted; 18 answered, 1 failed, 1 unanswered)" in text
    assert "at a 50% batch discount (assumed (OpenAI's 50%))" in text
    assert "Batch ids: `batch_x1`, `batch_x2`." in text


def test_the_hub_commit_a_source_was_read_at_is_in_the_datasheet(tmp_path: Path) -> None:
    """A Hub cache snapshot folder (``datasets--ORG--NAME/snapshots/<commit>``) stands in for the Hub."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = tmp_path / "hub" / "datasets--org--neutral" / "snapshots" / commit
    (snapshot / "data").mkdir(parents=True)
    rows = [{"prompt": p, "answer": a} for p, a in zip(NEUTRAL_PROMPTS, NEUTRAL_ANSWERS, strict=True)]
    pl.DataFrame(rows).write_parquet(snapshot / "data" / "train-00000-of-00001.parquet")
    run = build_run({"name": "ds-hub", "prompts": {"sources": [
        {"kind": "harmbench", "n": 4},
        {"kind": "hub", "dataset": str(snapshot), "label": "benign", "source_name": "neutral",
         "cache_dir": str(tmp_path / "cache"), "columns": {"reference_answer": "answer"}},
    ]}}, tmp_path / "run")  # fmt: skip
    sheet = run.result.datasheet.read_text()
    assert f"Hub datasets were read at these commits: neutral `{commit}`." in sheet


def test_the_safety_policy_and_its_rows_per_category_are_documented(template_run: Run) -> None:
    text = template_run.result.datasheet.read_text(encoding="utf-8")
    final = pl.read_parquet(template_run.run_dir / "curated.parquet")
    assert "**Safety policy.** The traces follow the default policy shipped with alttrain" in text
    counts = dict(final.group_by("policy_category").len().iter_rows())
    assert counts and sum(counts.values()) == final.height
    for category, rows in counts.items():
        assert re.search(rf"^\| {category} \([^|]+\) \| `\w+` \| [^|]+ \| {rows} \|$", text, flags=re.MULTILINE)
    assert re.search(r"^\| self_harm \(self-harm and suicide\) \| `safe_complete` \| empathy", text, flags=re.MULTILINE)
    provenance = template_run.result.provenance.policy
    assert provenance.taxonomies[:2] == ["star1", "harmbench"] and provenance.unrecorded == 0


ZH_ROWS = [
    {"prompt": "一小时有多少分钟？请给出数字。", "answer": "60"},
    {"prompt": "三加四等于几？", "answer": "7"},
    {"prompt": "一周有几天？", "answer": "7"},
]


def test_chinese_text_reaches_the_datasheet_card_and_exports_unescaped(tmp_path: Path) -> None:
    user = tmp_path / "zh.jsonl"
    user.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in ZH_ROWS), encoding="utf-8")
    run = build_run({
        "name": "ds-zh",
        "prompts": {"sources": [{"kind": "file", "path": str(user), "label": "benign", "category": "算术",
                                 "source_name": "中文算术", "columns": {"reference_answer": "answer"}}]},
        "curation": {"selection": {"n": 3},
                     "filters": [{"kind": "structure"}, {"kind": "language", "allowed": ["en", "zh"]}]},
    }, tmp_path / "run")
    curated = pl.read_parquet(run.run_dir / "curated.parquet")
    assert sorted(curated["prompt"]) == sorted(r["prompt"] for r in ZH_ROWS)
    documents = ("datasheet/DATASHEET.md", "datasheet/README.md", "curation_report.json")
    for document in documents:
        text = (run.run_dir / document).read_text(encoding="utf-8")
        assert "算术" in text and "\\u" not in text, document
        assert "中文算术" in text or document.endswith(".json"), document
    exported = sorted((run.run_dir / "dataset").glob("*.jsonl"))
    assert len(exported) == 3
    for path in exported:
        text = path.read_text(encoding="utf-8")
        assert ZH_ROWS[0]["prompt"] in text and "\\u" not in text, path.name
