from __future__ import annotations

import argilla as rg
import polars as pl
import pytest

from alttrain.curation.review.dataset import check_reviewable, guidelines, review_settings, to_records
from alttrain.errors import ReviewDataError
from alttrain.services.argilla.local import LocalArgilla
from alttrain.structure import StructureSpec
from curation.review.review_helpers import SPEC, curated_frame


def test_guidelines_warn_and_use_the_runs_markers() -> None:
    custom = StructureSpec(understanding_header="Understanding:", verdict_prefix="Judgement:")

    text = guidelines(custom)

    assert text.startswith("# Reviewing AltTrain training examples")
    assert "Content warning" in text and "harmful requests" in text
    assert "`Understanding:`" in text and "`Judgement: harmful`" in text and "$" not in text


def test_settings_follow_the_reviewer_count_and_the_markers(argilla_server: LocalArgilla) -> None:
    rg.Argilla(api_url=argilla_server.url, api_key=argilla_server.credentials.api_key)  # the SDK's default client
    custom = StructureSpec(reasoning_header="Reasoning:")

    settings = review_settings(custom, 3)

    assert settings.distribution.min_submitted == 3
    assert settings.fields["reasoning"].title == "Reasoning:" and settings.guidelines == guidelines(custom)


def test_records_carry_metadata_and_suggestions_without_inventing_values() -> None:
    frame = curated_frame(harmful=1, benign=1).with_columns(
        pl.Series("score", [None, 7.0]), pl.Series("cluster_id", [None, 2])
    )

    unscored, out_of_range = to_records(frame, SPEC)

    assert "judge_score" not in unscored.metadata and "cluster_id" not in unscored.metadata
    assert out_of_range.metadata["judge_score"] == 7.0 and out_of_range.metadata["cluster_id"] == "2"
    decision = next(s for s in out_of_range.suggestions if s.question_name == "decision")
    assert decision.score is None  # a judge score outside [0, 1] stays metadata only
    assert unscored.id == frame["id"][0] and unscored.fields["prompt"] == frame["prompt"][0]


def test_check_reviewable_names_repeated_ids_and_bad_verdicts() -> None:
    frame = curated_frame(harmful=2, benign=1)

    with pytest.raises(ReviewDataError, match=frame["id"][0]):
        check_reviewable(pl.concat([frame, frame.head(1)]))
    with pytest.raises(ReviewDataError, match=frame["id"][1]):
        check_reviewable(
            frame.with_columns(
                pl.when(pl.int_range(pl.len()) == 1).then(pl.lit("maybe")).otherwise("verdict").alias("verdict")
            )
        )
    with pytest.raises(ReviewDataError, match=frame["id"][2]):
        check_reviewable(
            frame.with_columns(
                pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("  ")).otherwise("answer").alias("answer")
            )
        )
    check_reviewable(frame)
