from types import SimpleNamespace

import polars as pl

from alttrain.datasheets.provenance import _structure_examples
from alttrain.structure import StructureSpec

SPEC = StructureSpec()


def test_the_structure_is_shown_in_every_language_of_the_final_rows() -> None:
    config = SimpleNamespace(structure=SPEC)
    english = pl.DataFrame({"prompt": ["What is 2 + 2?"], "label": ["benign"], "language": [None]})
    assert _structure_examples(config, english) == SPEC.skeleton()  # an English dataset: as before
    mixed = pl.concat([english, pl.DataFrame({"prompt": ["二加二等于几？", "Quelle heure ?"],
                                              "label": ["benign", "benign"], "language": [None, "fr"]})])
    assert _structure_examples(config, mixed) == SPEC.skeleton() + "\n\n" + SPEC.skeleton(language="zh")
