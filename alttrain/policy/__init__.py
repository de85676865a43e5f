"""The safety policy the traces follow: categories with a definition, a response mode and what a good answer holds.

A policy file (YAML; :data:`DEFAULT_POLICY` is shipped, a run may name its own as ``synthesis.policy``) has
``categories`` (each with a ``definition``, a ``mode``: ``refuse``, ``safe_complete`` or ``comply``, and
``must``: what a good answer contains), the ``default`` category of a harmful row whose category maps
nowhere, the ``benign`` category of every benign row, and ``mappings``: per peer taxonomy (STAR-1,
HarmBench, Do-Not-Answer, SafeChain, AdvBench, ...), its category names onto the policy's categories.

A row resolves by its dataset category (case-insensitively, across every taxonomy) and its label: benign
rows get the ``benign`` category; harmful rows the mapped category, else ``default``. Synthesis records the
result as the row's ``policy_category`` and ``policy_mode``; the teacher's prompt carries that category's
section only, curation checks the answer against the mode, the datasheet documents the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alttrain.errors import PolicyError
from alttrain.sections import describe, read_yaml

ResponseMode = Literal["refuse", "safe_complete", "comply"]
RESPONSE_MODES: tuple[ResponseMode, ...] = ("refuse", "safe_complete", "comply")
DEFAULT_POLICY = Path(__file__).with_name("default.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyCategory(_Strict):
    """One category of the policy: what it covers, how to respond, what a good answer contains."""

    title: str = Field(min_length=1)
    definition: str = Field(min_length=1)
    mode: ResponseMode
    must: list[str] = Field(min_length=1)  # what a good answer contains (and avoids)


@dataclass(frozen=True)
class Resolution:
    """A row's place in the policy: its category (key and section) and whether its dataset category was mapped."""

    name: str
    category: PolicyCategory
    mapped: bool

    @property
    def mode(self) -> ResponseMode:
        """The response mode of the category."""
        return self.category.mode


class Policy(_Strict):
    """A validated safety policy (see the module docstring for the file's layout)."""

    version: int = 1
    default: str  # the category of a harmful row whose dataset category maps nowhere
    benign: str  # the category of every benign row (mode ``comply``)
    categories: dict[str, PolicyCategory] = Field(min_length=1)
    mappings: dict[str, dict[str, str]] = Field(default_factory=dict)  # taxonomy -> {its category: policy category}

    @model_validator(mode="after")
    def _references_resolve(self) -> Policy:
        """Every named category exists, ``benign`` complies, and no peer category maps two ways."""
        for key in ("default", "benign"):
            if getattr(self, key) not in self.categories:
                known = sorted(self.categories)
                raise ValueError(f"{key}: {getattr(self, key)!r} is not one of the categories {known}")
        if (mode := self.categories[self.benign].mode) != "comply":
            raise ValueError(f"benign: category {self.benign!r} has mode {mode!r}, not comply")
        seen: dict[str, tuple[str, str]] = {}
        for taxonomy, table in self.mappings.items():
            for peer, target in table.items():
                if target not in self.categories:
                    raise ValueError(
                        f"mappings.{taxonomy}.{peer}: {target!r} is not one of the categories {sorted(self.categories)}"
                    )
                earlier = seen.setdefault(peer.casefold(), (taxonomy, target))
                if earlier[1] != target:
                    raise ValueError(
                        f"mappings.{taxonomy}.{peer}: maps to {target!r}, but mappings.{earlier[0]} maps it to "
                        f"{earlier[1]!r}"
                    )
        return self

    def lookup(self, category: str | None) -> str | None:
        """The policy category a dataset category maps to (any taxonomy, case-insensitive), or None."""
        return self._table().get((category or "").strip().casefold())

    def resolve(self, category: str | None, label: str) -> Resolution:
        """The policy category of a row: ``benign`` for benign rows, else the mapped category or ``default``."""
        if label != "harmful":
            return Resolution(self.benign, self.categories[self.benign], mapped=True)
        name = self.lookup(category)
        if name is None:
            return Resolution(self.default, self.categories[self.default], mapped=False)
        return Resolution(name, self.categories[name], mapped=True)

    def unmapped(self, categories: list[str | None]) -> list[str]:
        """The distinct dataset categories (in order) that map to no policy category."""
        return list(dict.fromkeys(c for c in categories if self.lookup(c) is None and c is not None))

    def _table(self) -> dict[str, str]:
        """Every taxonomy's mapping in one case-folded table."""
        return {peer.casefold(): target for table in self.mappings.values() for peer, target in table.items()}


def load_policy(path: Path | None = None) -> Policy:
    """Read and validate a policy file (default: the shipped one).

    Raises:
        PolicyError: a missing file, bad YAML, or a policy that does not validate (one line per bad key:
            an unknown mode, a mapping onto no category, a category mapped two ways, ...).

    """
    path = path or DEFAULT_POLICY
    data = read_yaml(path, PolicyError, "policy file")
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        raise PolicyError(describe(error, str(path)).replace("<root>: Value error, ", "")) from None
