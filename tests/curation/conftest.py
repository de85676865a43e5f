from __future__ import annotations

import pytest

from alttrain.curation.filters.base import FilterContext
from alttrain.measures import TokenizerConfig, make_counter
from curation.rows import SPEC


@pytest.fixture
def context() -> FilterContext:
    return FilterContext(spec=SPEC, counter=make_counter(TokenizerConfig()))
