"""Every benchmark's seeded selection, written out: the same config selects the same ids, another seed others."""

import json
from pathlib import Path

from alttrain.evaluation.config import EvaluationConfig
from alttrain.evaluation.heldout import TrainingSet
from alttrain.evaluation.run import load_items
from alttrain.evaluation.selection import write_selections

NO_TRAINING_SET = TrainingSet(path=None, ids=frozenset(), prompts=())


def _selections(benchmarks: list[dict]) -> list:
    config = EvaluationConfig(benchmarks=benchmarks, heldout={"require_training_set": False})
    items, _, selections = load_items(config, NO_TRAINING_SET)
    assert [s.ids for s in selections] == [items.filter(items["benchmark"] == s.benchmark)["id"].to_list()
                                           for s in selections]  # fmt: skip
    return selections


def test_the_same_config_selects_the_same_ids_and_another_seed_others() -> None:
    config = [{"kind": "harmbench", "n": 5, "seed": 3}, {"kind": "advbench", "n": 4}]
    first, again = _selections(config), _selections(config)
    assert [s.ids for s in first] == [s.ids for s in again]
    assert [len(s.ids) for s in first] == [5, 4]
    reseeded = _selections([{"kind": "harmbench", "n": 5, "seed": 4}, {"kind": "advbench", "n": 4}])
    assert reseeded[0].ids != first[0].ids and reseeded[1].ids == first[1].ids


def test_the_selection_file_says_how_to_select_the_same_items_again(tmp_path: Path) -> None:
    selections = _selections([{"kind": "harmbench", "n": 5, "seed": 3}])
    write_selections(tmp_path / "selection.json", selections)
    [harmbench] = json.loads((tmp_path / "selection.json").read_text())["benchmarks"]
    assert harmbench["benchmark"] == "harmbench" and harmbench["ids"] == selections[0].ids
    assert (harmbench["n"], harmbench["seed"], harmbench["loaded"], harmbench["commit"]) == (5, 3, 200, None)
    assert harmbench["config"] == {"kind": "harmbench", "n": 5, "seed": 3, "path": None, "functional_categories": None}
    assert harmbench["licenses"] and all("MIT" in license_ for license_ in harmbench["licenses"])
