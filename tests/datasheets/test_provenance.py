from types import SimpleNamespace

import polars as pl

from alttrain.datasheets.provenance import _structure_examples
from alttrain.structure import StructureSpec

SPEC = StructureSpec()


def rows(prompts: list[str], languages: list[str | None]) -> pl.DataFrame:
    data = {"prompt": prompts, "label": ["benign"] * len(prompts), "language": languages}
    return pl.DataFrame(data, schema={"prompt": pl.String, "label": pl.String, "language": pl.String})


def test_the_structure_is_shown_in_every_language_of_the_final_rows() -> None:
    config = SimpleNamespace(structure=SPEC)
    assert _structure_examples(config, rows(["What is 2 + 2?"], [None])) == SPEC.skeleton()  # English: as before
    mixed = rows(["What is 2 + 2?", "二加二等于几？", "Quelle heure ?"], [None, None, "fr"])
    assert _structure_examples(config, mixed) == SPEC.skeleton() + "\n\n" + SPEC.skeleton(language="zh")
