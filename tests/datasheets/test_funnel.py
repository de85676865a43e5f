import json
import shutil
from pathlib import Path

import pytest

from alttrain.datasheets.funnel import funnel_steps
from alttrain.datasheets.inputs import load_run_inputs
from alttrain.errors import DatasheetError

from .runs import Run


@pytest.fixture
def run_copy(template_run: Run, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(template_run.run_dir, target, ignore=shutil.ignore_patterns("dataset", "datasheet"))
    return target


def rewrite_report(run_dir: Path, **changes: object) -> None:
    path = run_dir / "curation_report.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_funnel_accounts_for_every_row(run_copy: Path) -> None:
    inputs = load_run_inputs(run_copy)
    steps = funnel_steps(inputs)
    assert steps[0].remaining == inputs.prompts.height
    assert steps[-1].remaining == inputs.final.height
    assert sum(step.removed for step in steps) == inputs.prompts.height - inputs.final.height


def test_report_that_does_not_add_up_is_refused(run_copy: Path) -> None:
    report = json.loads((run_copy / "curation_report.json").read_text())
    rewrite_report(run_copy, selected=report["selected"] + 1)
    with pytest.raises(DatasheetError, match="funnel does not add up at curate/selection"):
        funnel_steps(load_run_inputs(run_copy))


def test_report_input_must_match_synthesis(run_copy: Path) -> None:
    report = json.loads((run_copy / "curation_report.json").read_text())
    rewrite_report(run_copy, input=report["input"] - 1)
    with pytest.raises(DatasheetError, match=r"input \d+ but synthesis kept \d+ rows"):
        funnel_steps(load_run_inputs(run_copy))


def test_report_rows_in_must_match_synthesized(run_copy: Path) -> None:
    rewrite_report(run_copy, rows_in=1)
    with pytest.raises(DatasheetError, match=r"rows_in 1 but synthesized.parquet has \d+"):
        funnel_steps(load_run_inputs(run_copy))


def test_report_without_its_counts_is_unreadable(run_copy: Path) -> None:
    report = json.loads((run_copy / "curation_report.json").read_text())
    del report["selected"]
    (run_copy / "curation_report.json").write_text(json.dumps(report))
    with pytest.raises(DatasheetError, match=r"curation_report.json: unreadable funnel \(KeyError\('selected'\)\)"):
        funnel_steps(load_run_inputs(run_copy))
