"""The whole evaluation against the fault server: two teacher-backed models, a judge, held-out accounting.

The fault server answers every prompt with a well-formed *benign* trace (eval prompts carry no label
marker), so the expected scores are known: structure followed everywhere, verdicts right on benign
prompts and wrong on harmful ones, no refusals. Its scripted faults make one model fail one row.
"""

import json
from pathlib import Path

import polars as pl
import pytest
from rouge_score import rouge_scorer

from alttrain.config import RunConfig, parse_config
from alttrain.errors import ConfigError
from alttrain.evaluation.benchmarks import HarmBenchBenchmark
from alttrain.evaluation.stage import run_evaluation
from alttrain.records import conform, write_stage
from alttrain.testing import Fault, FaultPlan, FaultServer, teacher_config
from tests.evaluation.capability.test_multiple_choice import AGRONOMY
from tests.evaluation.capability.test_multiple_choice import write_copy as write_cmmlu
from tests.evaluation.capability.test_qa import ROWS as NQ_ROWS
from tests.evaluation.capability.test_qa import write_copy as write_nq_open
from tests.evaluation.capability.test_summarization import XSUM
from tests.evaluation.capability.test_summarization import write_copy as write_xsum


def config(steady: str, flaky: str, **evaluation) -> RunConfig:
    return parse_config({
        "name": "fault-eval",
        "prompts": {"sources": [{"kind": "harmbench", "n": 5}]},
        "evaluation": {
            "models": {"steady": {"backend": "teacher", "teacher": teacher_config(steady).model_dump()},
                       "flaky": {"backend": "teacher",
                                 "teacher": teacher_config(flaky, model="flaky", max_retries=0).model_dump()}},
            "baseline": "steady",
            "benchmarks": [{"kind": "harmbench", "n": 4}, {"kind": "advbench", "n": 3},
                           {"kind": "reasoning_gym", "n": 3}],
            "bootstrap_resamples": 200,
            **evaluation,
        },
    })


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run whose prompt pool holds four HarmBench prompts: they must not be evaluated."""
    trained = HarmBenchBenchmark().load().head(4).select("id", "prompt", "label", "source")
    write_stage(conform(trained, "prompts"), tmp_path / "prompts.parquet", "prompts")
    return tmp_path


def test_evaluation_counts_add_up_and_scores_follow_the_outputs(run_dir: Path) -> None:
    with FaultServer() as steady, FaultServer(FaultPlan(by_order={2: Fault.BAD_REQUEST})) as flaky:
        cfg = config(steady.base_url, flaky.base_url,
                     judges={"strongreject": {"teacher": teacher_config(steady.base_url).model_dump(),
                                              "max_parse_attempts": 2}})
        result = run_evaluation(cfg, run_dir)
    outcome = result.outcome
    harmbench = next(c for c in outcome.counts if c.benchmark == "harmbench")
    assert (harmbench.loaded, harmbench.overlap_id, harmbench.held_out, harmbench.evaluated) == (200, 4, 196, 4)
    for count in outcome.counts:
        assert count.loaded == count.duplicates + count.overlap_id + count.overlap_text + count.overlap_near_dup \
            + count.held_out
    rows = outcome.rows
    assert rows.height == 2 * 10
    trained_ids = set(HarmBenchBenchmark().load().head(4)["id"])
    assert not trained_ids & set(rows["id"])
    runs = {run.name: run for run in outcome.models}
    assert (runs["steady"].answered, runs["steady"].failed) == (10, 0)
    assert (runs["flaky"].answered, runs["flaky"].failed) == (9, 1)
    assert rows.filter(pl.col("error").is_not_null())["error"][0].startswith("PermanentTeacherError")
    # every harmful row answered was judged; the fault server never returns a grade: unparsed, not guessed
    assert runs["steady"].judges == {"sr": {"ok": 0, "unparsed": 7, "error": 0}}
    answered_harmful = (pl.col("label") == "harmful") & pl.col("error").is_null()
    assert set(rows.filter(answered_harmful)["sr_status"]) == {"unparsed"}
    assert rows.filter(~answered_harmful)["sr_status"].null_count() == rows.filter(~answered_harmful).height
    assert rows["sr_score"].null_count() == rows.height

    def value(benchmark: str, metric: str, model: str = "steady") -> float:
        found = outcome.metrics.filter((pl.col("benchmark") == benchmark) & (pl.col("metric") == metric)
                                       & (pl.col("model") == model))
        return found["value"][0]

    assert value("all harmful", "harmful_rate") == 1.0  # the benign trace never refuses
    assert value("all harmful", "verdict_accuracy") == 0.0 and value("all benign", "verdict_accuracy") == 1.0
    assert value("all benign", "structure_adherence") == 1.0 == value("all harmful", "structure_adherence")
    assert value("all benign", "accuracy") == 0.0  # "The answer follows from the steps above."
    assert outcome.metrics.filter(pl.col("metric") == "strongreject_score").height == 0
    assert outcome.token_counter.startswith("regex")

    files = result.files
    report = json.loads(files.json.read_text())
    assert report["training_set"] == str(run_dir / "prompts.parquet")
    assert {b["benchmark"] for b in report["benchmarks"]} == {"harmbench", "advbench", "reasoning_gym/gsm_symbolic"}
    assert report["refusal_heuristic"]["n"] == 105
    assert pl.read_parquet(files.outputs).height == 20
    markdown = files.markdown.read_text()
    for heading in ("## Headline: all harmful", "## Headline: all benign", "### advbench", "## Held-out accounting",
                    "StrongREJECT LLM judge on `steady`: ok 0, unparsed 7, error 0", "## The paper's table"):
        assert heading in markdown
    table = json.loads((files.eval_dir / "paper_table.json").read_text())
    assert [column["title"] for column in table["columns"]] == [
        "safety ↓: harmbench", "safety ↓: advbench", "capability ↑: reasoning_gym/gsm_symbolic",
        "reasoning tokens ↓: all harmful", "reasoning tokens ↓: all benign"]
    assert {cell["model"] for cell in table["cells"]} == {"steady", "flaky"} and table["baseline"] == "steady"
    assert [path.name for path in files.figures] == ["metrics.png", "reasoning_tokens.png", "safety_vs_capability.png"]
    assert all(path.exists() for path in files.figures)
    assert "## Harmful rate per policy category" in markdown
    by_category = {(r["policy_category"], r["model"]): r for r in report["harmful_rate_by_category"]}
    assert by_category[("general_harm", "steady")]["n"] > 0  # HarmBench's one category, mapped by the policy
    harmful = outcome.rows.filter((pl.col("label") == "harmful") & pl.col("complied").is_not_null())
    assert sum(r["n"] for r in report["harmful_rate_by_category"]) == harmful.height


def test_rerun_answers_from_the_cache(run_dir: Path) -> None:
    with FaultServer() as steady, FaultServer() as flaky:
        cfg = config(steady.base_url, flaky.base_url)
        first = run_evaluation(cfg, run_dir).outcome
        sent = steady.stats().completions + flaky.stats().completions
        again = run_evaluation(cfg, run_dir).outcome
        assert steady.stats().completions + flaky.stats().completions == sent == 20
    assert again.rows["output"].to_list() == first.rows["output"].to_list()
    assert again.metrics.equals(first.metrics)


def test_two_models_with_one_identity_are_refused(run_dir: Path) -> None:
    with FaultServer() as server:
        same = config(server.base_url, server.base_url)
        same.evaluation.models["flaky"] = same.evaluation.models["steady"]
        with pytest.raises(ConfigError, match="'steady' and 'flaky' are the same model \\(openai:fault-teacher\\)"):
            run_evaluation(same, run_dir)


def test_missing_training_set_stops_before_generating(tmp_path: Path) -> None:
    with FaultServer() as server:
        with pytest.raises(FileNotFoundError, match="no training set"):
            run_evaluation(config(server.base_url, server.base_url), tmp_path)
        assert server.stats().completions == 0
        outcome = run_evaluation(config(server.base_url, server.base_url,
                                        heldout={"require_training_set": False}), tmp_path).outcome
    assert outcome.training_set is None and all(c.overlap_id == 0 for c in outcome.counts)
    assert "none found: NOT checked" in (tmp_path / "eval" / "report.md").read_text()


def test_a_vllm_model_goes_to_vllm(tmp_path: Path) -> None:
    """backend 'vllm' builds the vLLM backend; in this venv (no vLLM) that is a one-line error naming it."""
    from alttrain.evaluation.model_clients import client_config
    from alttrain.evaluation.run import checkpoints
    from alttrain.llm.client import TeacherClient

    config = parse_config({"name": "vllm-eval", "prompts": {"sources": [{"kind": "harmbench", "n": 1}]},
                           "training": {"model": "org/any-model"},
                           "evaluation": {"models": {"base": {"backend": "vllm"}}}})
    model = client_config(config.evaluation.models["base"], config.evaluation, checkpoints(config), tmp_path)
    with pytest.raises(ConfigError, match="evaluation.models: backend 'vllm' needs vLLM, which is not installed"):
        TeacherClient(model, None)


def test_the_hub_commit_a_benchmark_was_read_at_is_in_the_report(run_dir: Path) -> None:
    """A Hub cache snapshot folder (``datasets--ORG--NAME/snapshots/<commit>``) stands in for the Hub."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = run_dir / "hub" / "datasets--walledai--StrongREJECT" / "snapshots" / commit
    (snapshot / "data").mkdir(parents=True)
    pl.DataFrame({"prompt": ["Neutral stand-in A", "Neutral stand-in B"], "category": ["c", "c"]}).write_parquet(
        snapshot / "data" / "train-0.parquet")  # fmt: skip
    with FaultServer() as steady, FaultServer() as flaky:
        result = run_evaluation(config(steady.base_url, flaky.base_url,
                                       benchmarks=[{"kind": "strongreject", "dataset": str(snapshot)}]), run_dir)
    assert [(count.benchmark, count.commit) for count in result.outcome.counts] == [("strongreject", commit)]
    assert f"Hub commits read: strongreject `{commit}`." in result.files.markdown.read_text()
    assert json.loads(result.files.json.read_text())["benchmarks"][0]["commit"] == commit
    [selection] = json.loads(result.files.selection.read_text())["benchmarks"]
    assert (selection["commit"], selection["loaded"], len(selection["ids"])) == (commit, 2, 2)


def test_capability_benchmarks_are_graded_by_their_reference_scorers(run_dir: Path) -> None:
    """NQ-open, XSum and CMMLU copies in their real layouts; the fault server's answer is right for none."""
    benchmarks = [{"kind": "nq_open", "dataset": str(write_nq_open(run_dir / "nq_open", NQ_ROWS))},
                  {"kind": "summarization", "layout": "xsum", "dataset": write_xsum(run_dir / "xsum", XSUM)},
                  {"kind": "cmmlu", "dataset": write_cmmlu(run_dir, {"agronomy": AGRONOMY})}]
    with FaultServer() as steady, FaultServer() as flaky:
        result = run_evaluation(config(steady.base_url, flaky.base_url, benchmarks=benchmarks), run_dir)
    rows = result.outcome.rows
    assert rows.height == 2 * (3 + 2 + 2) and rows["error"].null_count() == rows.height
    checks = dict(zip(rows["benchmark"], rows["answer_check"], strict=True))
    assert checks == {"nq_open": "scorer:squad", "summarization": "scorer:rouge_l", "cmmlu": "scorer:letter"}
    graded = rows.filter(pl.col("benchmark") == "summarization", pl.col("model") == "steady")
    rouge = rouge_scorer.RougeScorer(["rougeL"])
    expected = [rouge.score(reference, answer)["rougeL"].fmeasure
                for reference, answer in zip(graded["reference_answer"], graded["answer"], strict=True)]
    assert graded["answer_correct"].null_count() == 2 and graded["score"].to_list() == expected
    assert not rows.filter(pl.col("benchmark") != "summarization")["answer_correct"].any()
    metrics = result.outcome.metrics.filter(pl.col("model") == "steady")
    values = {(b, m): v for b, m, v in metrics.select("benchmark", "metric", "value").iter_rows()}
    assert values[("nq_open", "accuracy")] == 0.0 == values[("cmmlu", "accuracy")]
    assert values[("nq_open", "score")] == 0.0 and values[("summarization", "score")] == graded["score"].mean()
