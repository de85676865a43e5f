"""A real local Argilla for the review tests, and curated runs built from the real prompt pool.

The server (argilla-server in its own venv, Redis on a free loopback port, SQLite, alttrain's SQL
search engine) starts once per session with its state in a temporary folder and is stopped by PID at
the end. Its venv comes from ``$ALTTRAIN_ARGILLA_VENV`` or the default path and is built when missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pytest

from alttrain.curation.review.config import ReviewConfig
from alttrain.records import write_stage
from alttrain.services.argilla.config import ServerConfig
from alttrain.services.argilla.local import LocalArgilla, free_port, start_local_argilla
from curation.review.review_helpers import CALLER_SECRETS, Reviewers, curated_frame


@pytest.fixture(scope="session")
def argilla_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalArgilla]:
    """One local Argilla for the whole session, with isolated state, started by a caller holding tokens."""
    home = tmp_path_factory.mktemp("argilla-home")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CALLER_SECRETS.items():
            patch.setenv(name, value)
        server = start_local_argilla(ServerConfig(home=home, port=free_port(), username="owner"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def review_config(argilla_server: LocalArgilla, monkeypatch: pytest.MonkeyPatch) -> ReviewConfig:
    """A review config on the session server with a dataset name of its own (tests never share one)."""
    monkeypatch.setenv("ALTTRAIN_TEST_ARGILLA_KEY", argilla_server.credentials.api_key)
    return ReviewConfig(
        api_url=argilla_server.url,
        api_key_env="ALTTRAIN_TEST_ARGILLA_KEY",
        workspace="alttrain-tests",
        dataset=f"review-{uuid.uuid4().hex[:10]}",
    )


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    """Write RUN/curated.parquet (and optionally RUN/rejected.parquet from curation) and return RUN."""

    def make(harmful: int = 3, benign: int = 3, curation_rejected: int = 0) -> Path:
        run_dir = tmp_path / "run"
        frame = curated_frame(harmful + curation_rejected, benign)
        earlier = frame.head(curation_rejected).with_columns(pl.lit("dedup:near_duplicate").alias("filter_reason"))
        write_stage(frame.slice(curation_rejected), run_dir / "curated.parquet", "synthesized")
        if curation_rejected:
            write_stage(earlier, run_dir / "rejected.parquet", "synthesized")
        return run_dir

    return make


@pytest.fixture
def reviewers(argilla_server: LocalArgilla, review_config: ReviewConfig) -> Reviewers:
    """Reviewers for the test's dataset; the session owner is one of them."""
    return Reviewers(argilla_server, review_config)
