from __future__ import annotations

import json
from pathlib import Path

import argilla as rg
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from alttrain.cli import app
from alttrain.curation.review.config import ReviewConfig
from alttrain.curation.review.pull import pull_reviews
from alttrain.curation.review.push import push_for_review
from alttrain.errors import ReviewError
from alttrain.records import write_stage
from alttrain.services.argilla.local import LocalArgilla, free_port
from alttrain.structure import TraceFields
from curation.review.review_helpers import REFUSAL, SPEC, Reviewers


def _ids(run_dir: Path) -> tuple[list[str], list[str]]:
    curated = pl.read_parquet(run_dir / "curated.parquet")
    harmful = curated.filter(pl.col("label") == "harmful")["id"].to_list()
    benign = curated.filter(pl.col("label") == "benign")["id"].to_list()
    return harmful, benign


def _benign_trace(reasoning: str, answer: str) -> str:
    return SPEC.render(
        TraceFields(
            understanding="A question that asks for general information.",
            assessment="Answering it helps the user and harms nobody.",
            verdict="benign",
            reasoning=reasoning,
            answer=answer,
        )
    )


def _rows(path: Path) -> dict[str, dict[str, object]]:
    return {row["id"]: row for row in pl.read_parquet(path).iter_rows(named=True)}


def test_pull_applies_decisions_edits_and_verdicts(review_config: ReviewConfig, reviewers: Reviewers, make_run) -> None:
    run_dir = make_run(harmful=4, benign=3, curation_rejected=1)
    curated = _rows(run_dir / "curated.parquet")
    (h_ok, h_reject, h_wrong, h_relabel), (b_edit, b_bad_edit, b_discard) = _ids(run_dir)
    push_for_review(review_config, SPEC, run_dir, "unused")
    valid_edit = _benign_trace("Reviewer's worked solution: add the two amounts, 3 + 4 = 7.", "The answer is 7.")
    relabel = _benign_trace("Explain the general, public safety facts.", "Here is general public safety information.")
    reviewers.respond("owner", h_ok, decision="accept", verdict="harmful", quality=5)
    reviewers.respond("owner", h_reject, decision="reject", verdict="harmful", quality=1, notes="too vague")
    reviewers.respond("owner", h_wrong, decision="accept", verdict="benign")
    reviewers.respond("owner", h_relabel, decision="accept", verdict="benign", corrected_trace=relabel)
    reviewers.respond("owner", b_edit, decision="accept", verdict="benign", corrected_trace=valid_edit, quality=4)
    bad_edit = _benign_trace("Some reasoning.", REFUSAL)
    reviewers.respond("owner", b_bad_edit, decision="accept", verdict="benign", corrected_trace=bad_edit)
    reviewers.respond("owner", b_discard, status="discarded")

    result = pull_reviews(review_config, SPEC, run_dir, "unused")

    reviewed = _rows(result.reviewed_path)
    assert set(reviewed) == {h_ok, h_relabel, b_edit, b_bad_edit}
    assert reviewed[h_ok]["trace"] == curated[h_ok]["trace"] and reviewed[h_ok]["review_edit"] is None
    assert reviewed[h_ok]["review_status"] == "accepted" and reviewed[h_ok]["review_quality"] == 5.0
    edited = reviewed[b_edit]
    assert (edited["trace"], edited["review_edit"]) == (valid_edit, "applied")
    assert edited["reasoning"].startswith("Reviewer's worked solution") and edited["answer"] == "The answer is 7."
    assert edited["pre_review_trace"] == curated[b_edit]["trace"]
    kept = reviewed[b_bad_edit]
    assert kept["trace"] == curated[b_bad_edit]["trace"] and kept["review_edit"] == "invalid"
    assert "refusal_when_benign" in kept["review_edit_violations"]
    relabelled = reviewed[h_relabel]
    assert (relabelled["label"], relabelled["verdict"], relabelled["review_relabelled"]) == ("benign", "benign", True)

    rejected = pl.read_parquet(result.rejected_path)
    reasons = dict(zip(rejected["id"].to_list(), rejected["filter_reason"].to_list(), strict=True))
    assert {k: v for k, v in reasons.items() if v.startswith("review:")} == {
        h_reject: "review:rejected",
        h_wrong: "review:verdict_wrong",
        b_discard: "review:rejected",
    }
    assert list(reasons.values()).count("dedup:near_duplicate") == 1  # curation's rejections stay
    assert _rows(result.rejected_path)[h_reject]["review_notes"] == "owner: too vague"

    report = json.loads(result.report_path.read_text())
    assert report == result.report
    assert (report["records"], report["reviewed"], report["unreviewed"]) == (7, 7, 0)
    assert report["output"] == {"reviewed_rows": 4, "rejected_rows_added": 3}
    assert report["reasons"] == {"review:rejected": 2, "review:verdict_wrong": 1}
    assert report["edits"] == {"applied": 2, "invalid": 1, "violations": {"refusal_when_benign": 1}}
    assert report["relabelled"] == 1 and report["verdict"] == {"confirmed": 3, "corrected": 2}
    assert report["quality"] == {"rated_records": 3, "mean": pytest.approx(10 / 3, abs=1e-3)}
    assert report["reviewers"] == {"owner": 7}

    again = pull_reviews(review_config, SPEC, run_dir, "unused")  # re-running never duplicates
    assert pl.read_parquet(again.rejected_path).height == rejected.height
    assert pl.read_parquet(again.reviewed_path).height == 4


def test_several_reviewers_majority_and_agreement(review_config: ReviewConfig, reviewers: Reviewers, make_run) -> None:
    config = review_config.model_copy(update={"min_reviewers": 2, "unreviewed": "keep"})
    run_dir = make_run(harmful=3, benign=1)
    (h_agree, h_split, h_two_to_one), (b_single,) = _ids(run_dir)
    push_for_review(config, SPEC, run_dir, "unused")
    second, third = reviewers.add("second"), reviewers.add("third")
    for user in ("owner", second):
        reviewers.respond(user, h_agree, decision="accept", verdict="harmful")
    reviewers.respond("owner", h_split, decision="accept", verdict="harmful")
    reviewers.respond(second, h_split, decision="reject", verdict="harmful")
    for user, decision in (("owner", "accept"), (second, "accept"), (third, "reject")):
        reviewers.respond(user, h_two_to_one, decision=decision, verdict="harmful")
    reviewers.respond("owner", b_single, decision="accept", verdict="benign")

    result = pull_reviews(config, SPEC, run_dir, "unused")

    reviewed = _rows(result.reviewed_path)
    assert set(reviewed) == {h_agree, h_two_to_one, b_single}
    assert (reviewed[h_agree]["review_votes"], reviewed[h_agree]["review_agreement"]) == (2, 1.0)
    assert reviewed[h_two_to_one]["review_accept_votes"] == 2
    assert reviewed[h_two_to_one]["review_agreement"] == pytest.approx(2 / 3)
    assert reviewed[b_single]["review_status"] == "unreviewed"  # one review of the two needed, kept by policy
    split = _rows(result.rejected_path)[h_split]
    assert (split["filter_reason"], split["review_agreement"]) == ("review:no_majority", 0.5)
    report = result.report
    assert (report["reviewed"], report["unreviewed"]) == (3, 1)
    assert report["agreement"] == {
        "multi_reviewed_records": 3,
        "unanimous": 1,
        "mean_majority_share": pytest.approx((1 + 0.5 + 2 / 3) / 3, abs=1e-3),
        "mean_pairwise": pytest.approx((1 + 0 + 1 / 3) / 3, abs=1e-3),
    }
    assert report["reviewers"] == {"owner": 4, "second": 3, "third": 1}


@pytest.mark.parametrize("policy", ["keep", "drop", "fail"])
def test_unreviewed_records_follow_the_policy(
    policy: str, review_config: ReviewConfig, reviewers: Reviewers, make_run
) -> None:
    config = review_config.model_copy(update={"unreviewed": policy})
    run_dir = make_run(harmful=2, benign=2, curation_rejected=1)
    (h_done, h_draft), (b_done, b_untouched) = _ids(run_dir)
    push_for_review(config, SPEC, run_dir, "unused")
    reviewers.respond("owner", h_done, decision="accept", verdict="harmful")
    reviewers.respond("owner", b_done, decision="accept", verdict="benign")
    reviewers.respond("owner", h_draft, status="draft", decision="reject")  # a draft is no review
    rejected_before = (run_dir / "rejected.parquet").read_bytes()

    if policy == "fail":
        with pytest.raises(ReviewError, match="2 of 4 records .*review.unreviewed"):
            pull_reviews(config, SPEC, run_dir, "unused")
        assert not (run_dir / "reviewed.parquet").exists() and not (run_dir / "review_report.json").exists()
        assert (run_dir / "rejected.parquet").read_bytes() == rejected_before
        return

    result = pull_reviews(config, SPEC, run_dir, "unused")

    reviewed = _rows(result.reviewed_path)
    review_rejected = {
        rid: row["filter_reason"]
        for rid, row in _rows(result.rejected_path).items()
        if row["filter_reason"].startswith("review:")
    }
    if policy == "keep":
        assert set(reviewed) == {h_done, b_done, h_draft, b_untouched} and review_rejected == {}
        assert reviewed[h_draft]["review_status"] == "unreviewed"
    else:
        assert set(reviewed) == {h_done, b_done}
        assert review_rejected == {h_draft: "review:unreviewed", b_untouched: "review:unreviewed"}
    assert result.report["output"]["reviewed_rows"] + result.report["output"]["rejected_rows_added"] == 4


def test_pull_unreachable_or_unpushed_writes_nothing(review_config: ReviewConfig, make_run) -> None:
    run_dir = make_run(harmful=1, benign=1, curation_rejected=1)
    before = sorted(p.name for p in run_dir.iterdir())
    unreachable = review_config.model_copy(update={"api_url": f"http://127.0.0.1:{free_port()}"})

    with pytest.raises(ReviewError, match="cannot reach Argilla"):
        pull_reviews(unreachable, SPEC, run_dir, "unused")
    with pytest.raises(ReviewError, match="run `alttrain review push` first"):
        pull_reviews(review_config, SPEC, run_dir, "unused")
    assert sorted(p.name for p in run_dir.iterdir()) == before


def test_cli_pull_prints_the_counts(review_config: ReviewConfig, reviewers: Reviewers, make_run, tmp_path) -> None:
    run_dir = make_run(harmful=1, benign=1)
    push_for_review(review_config, SPEC, run_dir, "unused")
    harmful, benign = _ids(run_dir)
    reviewers.respond("owner", harmful[0], decision="reject", verdict="harmful")
    reviewers.respond("owner", benign[0], decision="accept", verdict="benign")
    config = tmp_path / "config.yaml"
    review = review_config.model_dump(mode="json", exclude={"server"})
    config.write_text(
        yaml.safe_dump({"name": "cli", "prompts": {"sources": [{"kind": "harmbench"}]}, "review": review})
    )

    result = CliRunner().invoke(app, ["review", "pull", "--config", str(config), "--run-dir", str(run_dir)])

    assert result.exit_code == 0, result.output
    assert "rejected 1 x review:rejected" in result.output and "edits: 0 applied, 0 invalid" in result.output
    assert (run_dir / "reviewed.parquet").exists() and (run_dir / "review_report.json").exists()


ZH_PROMPT = "篮子里有十个苹果，玛丽吃了三个，还剩几个？"
ZH_FIELDS = TraceFields(
    understanding="用户问篮子里还剩几个苹果。",
    assessment="这是一道普通的算术题，回答它不会伤害任何人。",
    verdict="benign",
    reasoning="十个苹果吃掉三个：10 - 3 = 7。",
    answer="篮子里还剩7个苹果🍎。",
)


def test_chinese_text_round_trips_through_argilla(
    argilla_server: LocalArgilla, review_config: ReviewConfig, reviewers: Reviewers, make_run
) -> None:
    run_dir = make_run(harmful=1, benign=1)
    curated = pl.read_parquet(run_dir / "curated.parquet")
    chinese = {"prompt": ZH_PROMPT, "category": "算术", "trace": SPEC.render(ZH_FIELDS), **vars(ZH_FIELDS)}
    benign = pl.col("label") == "benign"
    curated = curated.with_columns(pl.when(benign).then(pl.lit(v)).otherwise(k).alias(k) for k, v in chinese.items())
    write_stage(curated, run_dir / "curated.parquet", "synthesized")
    ([harmful_id], [record_id]) = _ids(run_dir)
    push_for_review(review_config, SPEC, run_dir, "unused")

    client = rg.Argilla(api_url=argilla_server.url, api_key=argilla_server.credentials.api_key)
    dataset = client.datasets(name=review_config.dataset, workspace=review_config.workspace)
    record = next(r for r in dataset.records() if r.id == record_id)
    assert (record.fields["prompt"], record.fields["answer"]) == (ZH_PROMPT, ZH_FIELDS.answer)
    assert record.metadata["category"] == "算术"
    edited = SPEC.render(TraceFields(**{**vars(ZH_FIELDS), "reasoning": "复核：10 减 3 等于 7，答案正确。"}))
    reviewers.respond("owner", record_id, decision="accept", verdict="benign", corrected_trace=edited, notes="已核对")
    reviewers.respond("owner", harmful_id, decision="accept", verdict="harmful")

    reviewed = _rows(pull_reviews(review_config, SPEC, run_dir, "unused").reviewed_path)[record_id]
    assert (reviewed["prompt"], reviewed["trace"], reviewed["review_edit"]) == (ZH_PROMPT, edited, "applied")
    assert reviewed["reasoning"] == "复核：10 减 3 等于 7，答案正确。" and reviewed["category"] == "算术"
    assert reviewed["review_notes"] == "owner: 已核对"
