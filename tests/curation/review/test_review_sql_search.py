"""alttrain's SQL search engine, through the real server's REST API (the calls the Argilla UI makes)."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from alttrain.curation.review.config import ReviewConfig
from alttrain.curation.review.push import push_for_review
from curation.review.review_helpers import SPEC, Reviewers


@pytest.fixture
def reviewed_dataset(review_config: ReviewConfig, reviewers: Reviewers, make_run) -> tuple[Reviewers, pl.DataFrame]:
    """Six pushed records (3 harmful, 3 benign); the owner submitted two and discarded one."""
    run_dir = make_run(harmful=3, benign=3)
    push_for_review(review_config, SPEC, run_dir, "unused")
    curated = pl.read_parquet(run_dir / "curated.parquet")
    ids = curated["id"].to_list()
    reviewers.respond("owner", ids[0], decision="accept", verdict="harmful", quality=4)
    reviewers.respond("owner", ids[3], decision="reject", verdict="benign", quality=2)
    reviewers.respond("owner", ids[4], status="discarded")
    return reviewers, curated


def _search(reviewers: Reviewers, body: dict[str, Any], **params: Any) -> tuple[list[str], int]:
    """Search as the owner's annotation queue does; return external ids in order and the total."""
    dataset = reviewers.dataset_id()
    answer = reviewers._call("POST", f"/api/v1/me/datasets/{dataset}/records/search", json=body, params=params)
    data = answer.json()
    return [item["record"]["external_id"] for item in data["items"]], data["total"]


def _terms(entity: str, values: list[str], **scope: str) -> dict[str, Any]:
    return {"filters": {"and": [{"type": "terms", "scope": {"entity": entity, **scope}, "values": values}]}}


def test_response_status_filters_drive_the_annotation_queue(reviewed_dataset) -> None:
    reviewers, curated = reviewed_dataset
    ids = curated["id"].to_list()

    pending, total = _search(reviewers, _terms("response", ["pending"], property="status"))
    submitted, _ = _search(reviewers, _terms("response", ["submitted"], property="status"))
    either, _ = _search(reviewers, _terms("response", ["pending", "discarded"], property="status"))

    assert (pending, total) == ([ids[1], ids[2], ids[5]], 3)  # insertion order
    assert submitted == [ids[0], ids[3]]
    assert either == [ids[1], ids[2], ids[4], ids[5]]


def test_metadata_suggestion_and_answer_filters(reviewed_dataset) -> None:
    reviewers, curated = reviewed_dataset
    ids = curated["id"].to_list()
    high = curated.filter(pl.col("score") >= 0.7)["id"].to_list()

    harmful, total = _search(reviewers, _terms("metadata", ["harmful"], metadata_property="label"))
    scored, _ = _search(
        reviewers,
        {
            "filters": {
                "and": [
                    {"type": "range", "scope": {"entity": "metadata", "metadata_property": "judge_score"}, "ge": 0.7}
                ]
            }
        },
    )
    suggested_benign, _ = _search(reviewers, _terms("suggestion", ["benign"], question="verdict"))
    by_agent, _ = _search(reviewers, _terms("suggestion", ["alttrain-curation"], question="decision", property="agent"))
    accepted, _ = _search(reviewers, _terms("response", ["accept"], question="decision"))
    rated, _ = _search(
        reviewers,
        {"filters": {"and": [{"type": "range", "scope": {"entity": "response", "question": "quality"}, "le": 3}]}},
    )

    assert (harmful, total) == (ids[:3], 3)
    assert scored == high and 0 < len(high) < 6
    assert suggested_benign == ids[3:]
    assert by_agent == ids
    assert accepted == [ids[0]]
    assert rated == [ids[3]]


def test_text_query_sort_and_paging(reviewed_dataset) -> None:
    reviewers, curated = reviewed_dataset
    ids = curated["id"].to_list()
    prompt = curated["prompt"][4]
    word = max(prompt.split(), key=len).strip(".,?!\"'")
    by_length = curated.with_columns(pl.col("trace").str.len_chars().alias("n")).sort(
        "n", "id", descending=[True, False]
    )

    found, _ = _search(reviewers, {"query": {"text": {"q": word.upper(), "field": "prompt"}}})
    phrase, _ = _search(reviewers, {"query": {"text": {"q": f'"{" ".join(prompt.split()[:3])}"'}}})
    nothing, total = _search(reviewers, {"query": {"text": {"q": f"{word} zzzqqq-no-such-word"}}})
    sorted_ids, _ = _search(
        reviewers, {"sort": [{"scope": {"entity": "metadata", "metadata_property": "trace_chars"}, "order": "desc"}]}
    )
    page, page_total = _search(reviewers, {}, offset=2, limit=2)

    assert ids[4] in found and ids[4] in phrase
    assert (nothing, total) == ([], 0)
    lengths = dict(zip(by_length["id"], by_length["n"], strict=True))
    assert [lengths[i] for i in sorted_ids] == sorted(lengths.values(), reverse=True)
    assert (page, page_total) == (ids[2:4], 6)


def test_progress_and_metadata_metrics(reviewed_dataset) -> None:
    reviewers, curated = reviewed_dataset
    dataset = reviewers.dataset_id()

    progress = reviewers._call("GET", f"/api/v1/datasets/{dataset}/progress").json()
    mine = reviewers._call("GET", f"/api/v1/me/datasets/{dataset}/metrics").json()
    properties = {
        p["name"]: p["id"]
        for p in reviewers._call("GET", f"/api/v1/me/datasets/{dataset}/metadata-properties").json()["items"]
    }
    labels = reviewers._call("GET", f"/api/v1/metadata-properties/{properties['label']}/metrics").json()
    tokens = reviewers._call("GET", f"/api/v1/metadata-properties/{properties['completion_tokens']}/metrics").json()

    assert (progress["total"], progress["completed"], progress["pending"]) == (6, 2, 4)  # a discard completes nothing
    assert mine["responses"] == {"total": 6, "submitted": 2, "discarded": 1, "draft": 0, "pending": 3}
    assert labels["total"] == 6 and {v["term"]: v["count"] for v in labels["values"]} == {"harmful": 3, "benign": 3}
    assert (tokens["min"], tokens["max"]) == (curated["completion_tokens"].min(), curated["completion_tokens"].max())
