"""License constraints of a dataset built from several sources.

Each record carries its source's license text (e.g. ``"MIT (HarmBench)"``): the
leading SPDX id is the data's license, the parenthesis says where it came from. A dataset that mixes
sources is bound by the union of their terms; the most restrictive one is named, and a license this
module does not know is flagged for a human instead of guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# lower-case SPDX id (also the Hub card id) -> (rank: higher is more restrictive, spelling, obligation)
_KNOWN: dict[str, tuple[int, str, str]] = {
    "cc0-1.0": (0, "CC0-1.0", "no conditions (public-domain dedication)"),
    "unlicense": (0, "Unlicense", "no conditions (public-domain dedication)"),
    "mit": (1, "MIT", "keep the copyright and license notice"),
    "isc": (1, "ISC", "keep the copyright and license notice"),
    "bsd-2-clause": (1, "BSD-2-Clause", "keep the copyright and license notice"),
    "bsd-3-clause": (1, "BSD-3-Clause", "keep the copyright notice; no endorsement by the authors' names"),
    "apache-2.0": (2, "Apache-2.0", "keep the license and NOTICE texts and state significant changes"),
    "cc-by-4.0": (2, "CC-BY-4.0", "give attribution and indicate changes"),
    "odc-by": (2, "ODC-By", "give attribution"),
    "cc-by-sa-4.0": (3, "CC-BY-SA-4.0", "give attribution; share adaptations under the same license"),
    "odbl": (3, "ODbL", "give attribution; share adaptations of the database alike"),
    "gpl-3.0": (3, "GPL-3.0", "share derived works under GPL-3.0"),
    "cc-by-nc-4.0": (4, "CC-BY-NC-4.0", "give attribution; no commercial use"),
    "cc-by-nc-sa-4.0": (5, "CC-BY-NC-SA-4.0", "give attribution; no commercial use; share alike"),
    "cc-by-nc-nd-4.0": (5, "CC-BY-NC-ND-4.0", "give attribution; no commercial use; no derivatives"),
}


@dataclass(frozen=True)
class SourceLicense:
    """One source's license as recorded and as recognised."""

    source: str
    recorded: str
    spdx: str | None  # None: not recognised


@dataclass(frozen=True)
class LicenseSummary:
    """What the mix of source licenses allows and requires."""

    sources: list[SourceLicense]
    licenses: list[str]  # recognised SPDX ids, most restrictive first
    obligations: dict[str, str]  # SPDX id -> what it requires
    most_restrictive: str  # an SPDX id, or "unknown"
    unrecognised: list[str]  # sources whose license needs a human
    override: str | None

    @property
    def mixed(self) -> bool:
        """Whether the sources carry more than one license."""
        return len(self.licenses) + (1 if self.unrecognised else 0) > 1

    @property
    def statement(self) -> str:
        """One line: the override, the single license, or ``mixed (A, B)``."""
        if self.override:
            return f"{self.override} (set in the config)"
        names = self.licenses + (["unknown"] if self.unrecognised else [])
        return f"mixed ({', '.join(names)})" if self.mixed else names[0]

    @property
    def card_license(self) -> str | list[str]:
        """The card's ``license`` field: the override, one id, or the list of ids (``unknown`` if any)."""
        if self.override:
            return self.override.lower()
        ids = [s.lower() for s in self.licenses] + (["unknown"] if self.unrecognised else [])
        return ids[0] if len(ids) == 1 else ids


def spdx_id(recorded: str) -> str | None:
    """Return the leading SPDX id of a recorded license text, lower-cased; None when not recognised."""
    match = re.match(r"\s*([A-Za-z0-9.+-]+)", recorded)
    if not match:
        return None
    candidate = match.group(1).lower()
    return candidate if candidate in _KNOWN else None


def summarise_licenses(pairs: list[tuple[str, str]], override: str | None = None) -> LicenseSummary:
    """Summarise ``(source, recorded license)`` pairs; ``override`` replaces the derived license."""
    sources = [SourceLicense(source, recorded, spdx_id(recorded)) for source, recorded in pairs]
    recognised = {s.spdx for s in sources if s.spdx is not None}
    ordered = sorted(recognised, key=lambda spdx: (-_KNOWN[spdx][0], spdx))
    unrecognised = [s.source for s in sources if s.spdx is None]
    most = "unknown" if unrecognised or not ordered else ordered[0]
    return LicenseSummary(
        sources=sources,
        licenses=[_display(spdx) for spdx in ordered],
        obligations={_display(spdx): _KNOWN[spdx][2] for spdx in ordered},
        most_restrictive=_display(most) if most in _KNOWN else most,
        unrecognised=unrecognised,
        override=override,
    )


def _display(spdx: str) -> str:
    """Return the conventional spelling of a recognised SPDX id."""
    return _KNOWN[spdx][1]
