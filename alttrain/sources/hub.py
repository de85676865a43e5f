"""Hugging Face Hub datasets as prompt sources, loaded with ``datasets.load_dataset`` and mapped like files.

``dataset`` is a Hub id or a local folder of data files (parquet, JSON Lines, CSV: what
``load_dataset`` reads from a directory). Without network, a dataset loads only from the ``datasets``
cache; set ``HF_HUB_OFFLINE=1`` to skip the network attempts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import PrivateAttr, model_validator

from alttrain.errors import SourceError
from alttrain.hub_revision import hub_commit
from alttrain.prompt_sets.base import one_line
from alttrain.sources.mapping import MappedSource


class HubSource(MappedSource):
    """A Hub dataset by name (``dataset``, ``config``, ``split``, ``revision``) with a column mapping.

    With a ``preset`` that names a Hub dataset, ``dataset`` may be left out. ``cache_dir`` overrides the
    ``datasets`` cache folder. A Hub id's ``revision`` (None: the default branch) is resolved to its commit
    first and that commit is loaded and recorded (:meth:`read_commit`): a rerun can pin it.
    """

    kind: Literal["hub"] = "hub"
    dataset: str | None = None
    config: str | None = None
    split: str = "train"
    revision: str | None = None
    cache_dir: Path | None = None
    _commit: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _has_dataset(self) -> HubSource:
        if self.dataset is None:
            preset = self.preset_spec
            if preset is None or preset.hub is None:
                which = f"preset {preset.name} has no Hub id" if preset else "no preset gives one"
                raise ValueError(f"kind hub needs `dataset:` (a Hub id or a local folder; {which})")
            self.dataset = preset.hub
        return self

    @property
    def where(self) -> str:
        """``hub dataset 'org/name' (config, split)``."""
        config = f"config {self.config!r}, " if self.config else ""
        return f"hub dataset {self.dataset!r} ({config}split {self.split!r})"

    def default_name(self) -> str:
        """The dataset name."""
        return str(self.dataset)

    def default_license(self) -> str:
        """Unknown: the dataset card says."""
        return f"unknown (see the {self.dataset} dataset card)"

    def read_raw(self, seed: int) -> tuple[pl.DataFrame, int]:
        """``datasets.load_dataset(dataset, config, split=..., revision=...)`` as a polars frame, and its rows.

        The dataset is memory-mapped by ``datasets``; the pool samples ``n`` of it.
        """
        import datasets

        cache_dir = str(self.cache_dir) if self.cache_dir else None
        self._commit = self._resolve()
        revision = self.revision if Path(str(self.dataset)).expanduser().exists() else self._commit
        try:
            loaded = datasets.load_dataset(self.dataset, self.config, split=self.split, revision=revision,
                                           cache_dir=cache_dir)  # fmt: skip
        except ConnectionError as error:
            raise SourceError(
                f"{self.where}: the Hugging Face Hub is unreachable or offline and no cached copy was found "
                f"({one_line(error)}); where the Hub is reachable, download the dataset's data files into a folder "
                "and set `dataset:` to that folder (or save it with save_to_disk and use kind: file)"
            ) from error
        except FileNotFoundError as error:
            raise SourceError(
                f"{self.where}: not found ({one_line(error)}); check the name, or log in (`hf auth login`) "
                "for a gated or private dataset"
            ) from error
        except ValueError as error:
            hint = "; use kind: file with `path:` for a save_to_disk folder" if "save_to_disk" in str(error) else ""
            raise SourceError(f"{self.where}: {one_line(error)}{hint}") from error
        except datasets.exceptions.DatasetsError as error:  # a data file that does not parse
            cause = error.__cause__ or error.__context__ or error
            raise SourceError(f"{self.where}: cannot be loaded: {one_line(error)} ({one_line(cause)})") from error
        if not isinstance(loaded, datasets.Dataset):
            raise SourceError(f"{self.where}: load_dataset returned {type(loaded).__name__}, not one split")
        if loaded._indices is not None:  # a selection over the table: write it out first
            loaded = loaded.flatten_indices()
        frame: pl.DataFrame = pl.from_arrow(loaded.data.table)  # type: ignore[assignment]
        return frame, frame.height

    def read_commit(self) -> str | None:
        """The commit the last load read (None before a load, or for a local folder outside a Hub snapshot)."""
        return self._commit

    def _resolve(self) -> str | None:
        """The commit ``revision`` names now (:func:`~alttrain.hub_revision.hub_commit`).

        Raises:
            SourceError: the dataset or revision does not exist, or the Hub cannot be asked and the cache
                holds no ref for the revision.

        """
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

        try:
            return hub_commit(str(self.dataset), self.revision)
        except (RepositoryNotFoundError, RevisionNotFoundError) as error:
            raise SourceError(
                f"{self.where}: not found ({one_line(error)}); check the name and revision, or log in "
                "(`hf auth login`) for a gated or private dataset"
            ) from error
        except Exception as error:  # offline, unreachable: huggingface_hub raises many types
            raise SourceError(
                f"{self.where}: the Hugging Face Hub is unreachable or offline and no cached copy was found "
                f"(revision {self.revision or 'main'!r}: {one_line(error)}); where the Hub is reachable, download "
                "the dataset's data files into a folder and set `dataset:` to that folder, or set `revision:` to "
                "the commit hash it was read at"
            ) from error
