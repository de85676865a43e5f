"""What the ``review`` stage (and ``alttrain review push|pull|serve``) reads of the run config."""

from __future__ import annotations

from alttrain.curation.review.config import ReviewConfig
from alttrain.stage import StageView
from alttrain.structure import StructureSpec


class ReviewView(StageView):
    """The run's name (the Argilla dataset is named after it), the structure and the review settings."""

    name: str
    structure: StructureSpec
    review: ReviewConfig
