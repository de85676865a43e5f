from pathlib import Path

import matplotlib.image
import polars as pl
from PIL import Image

from alttrain.datasheets.figures import reduction_figure
from alttrain.datasheets.stats import measure, rewrite_lengths
from alttrain.measures import make_counter

from .runs import Run


def test_every_figure_is_a_valid_png(template_run: Run) -> None:
    folder = template_run.result.datasheet.parent
    assert len(template_run.result.figures) == 5
    for figure in template_run.result.figures:
        assert figure.path is not None, figure.skipped
        path = folder / figure.path
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.format == "PNG"
            width, height = image.size
        assert width >= 400 and height >= 250, (figure.name, image.size)
        pixels = matplotlib.image.imread(path)
        assert pixels.shape[:2] == (height, width)
        assert pixels.std() > 0.01  # something was drawn


def test_reduction_is_skipped_with_a_note_without_rewrite_rows(template_run: Run, tmp_path: Path) -> None:
    curated = pl.read_parquet(template_run.run_dir / "curated.parquet")
    assert curated.filter(pl.col("mode") == "rewrite").height > 0  # reasoning-gym rows are rewritten
    config = template_run.config
    generated = measure(curated.filter(pl.col("mode") != "rewrite"),
                        make_counter(config.curation.tokenizer))
    skipped = reduction_figure(rewrite_lengths(generated), tmp_path)
    assert skipped.path is None
    assert skipped.skipped == "no row of the final dataset was rewritten"
    assert not (tmp_path / "figures" / "reduction.png").exists()


def test_skipped_figure_is_explained_in_the_documents(served_run: Run) -> None:
    # the served run has no reasoning-gym rows, so nothing was rewritten
    figures = {figure.name: figure for figure in served_run.result.figures}
    assert figures["reduction"].path is None
    for document in (served_run.result.datasheet, served_run.result.card):
        assert "Not drawn: no row of the final dataset was rewritten." in document.read_text()
    assert not (served_run.result.datasheet.parent / "figures" / "reduction.png").exists()
