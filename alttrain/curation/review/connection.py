"""Reach Argilla: connect with the configured URL and key, find or create the workspace and dataset."""

from __future__ import annotations

import warnings

import argilla as rg
import httpx
from argilla._exceptions import ArgillaError

from alttrain.curation.review.config import ReviewConfig
from alttrain.curation.review.dataset import review_settings
from alttrain.errors import ReviewError
from alttrain.structure import StructureSpec

CONNECT_RETRIES = 1


def connect(config: ReviewConfig) -> rg.Argilla:
    """Connect to Argilla and check the key.

    Raises:
        ReviewError: when the server does not answer or refuses the key (the key is never shown).
        ReviewConfigError: when the API key variable is unset.

    """
    url = config.resolved_api_url()
    key = config.api_key()
    try:
        client = rg.Argilla(api_url=url, api_key=key, timeout=config.timeout_s, retries=CONNECT_RETRIES)
        user = client.me
    except httpx.HTTPError as error:
        raise ReviewError(
            f"cannot reach Argilla at {url} ({type(error).__name__}: {error}); start it with "
            "`alttrain review serve` or set review.api_url / ARGILLA_API_URL"
        ) from None
    except ArgillaError as error:
        raise ReviewError(
            f"Argilla at {url} refused the API key from {config.api_key_env} ({type(error).__name__})"
        ) from None
    if user is None:
        raise ReviewError(f"Argilla at {url} does not know the API key from {config.api_key_env}")
    return client


def _check_compatible(dataset: rg.Dataset, expected: rg.Settings, min_reviewers: int) -> None:
    """Raise :class:`ReviewError` when an existing dataset was made with another design."""
    have = {f.name for f in dataset.fields}, {q.name for q in dataset.questions}
    want = {f.name for f in expected.fields}, {q.name for q in expected.questions}
    if have != want:
        raise ReviewError(
            f"Argilla dataset {dataset.name!r} has fields/questions {sorted(have[0])}/{sorted(have[1])}, "
            f"expected {sorted(want[0])}/{sorted(want[1])}: use another review.dataset name"
        )
    found = dataset.distribution.min_submitted
    if found != min_reviewers:
        raise ReviewError(
            f"Argilla dataset {dataset.name!r} asks for {found} reviewers per record but review.min_reviewers "
            f"is {min_reviewers}: set it back, or use another review.dataset name"
        )


def _lookup(client: rg.Argilla, workspace_name: str, name: str) -> tuple[rg.Workspace | None, rg.Dataset | None]:
    """Find the workspace and the dataset (None when missing: the SDK's not-found warnings are expected)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".* not found", category=UserWarning)
        workspace = client.workspaces(name=workspace_name)
        dataset = None if workspace is None else client.datasets(name=name, workspace=workspace)
    return workspace, dataset


def find_dataset(client: rg.Argilla, config: ReviewConfig, name: str) -> rg.Dataset | None:
    """Return the run's dataset, or None when the workspace or dataset does not exist."""
    return _lookup(client, config.workspace, name)[1]


def ensure_dataset(client: rg.Argilla, config: ReviewConfig, name: str, spec: StructureSpec) -> tuple[rg.Dataset, bool]:
    """Find the run's dataset, creating the workspace and dataset when missing.

    Returns:
        The dataset and whether it was created now.

    Raises:
        ReviewError: when an existing dataset has another design or reviewer count.

    """
    settings = review_settings(spec, config.min_reviewers)
    workspace, dataset = _lookup(client, config.workspace, name)
    if workspace is None:
        workspace = rg.Workspace(name=config.workspace, client=client).create()
    if dataset is not None:
        _check_compatible(dataset, settings, config.min_reviewers)
        return dataset, False
    dataset = rg.Dataset(name=name, workspace=workspace, settings=settings, client=client).create()
    return dataset, True
