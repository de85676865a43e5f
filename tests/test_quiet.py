"""Library chatter goes to the run's log file, not the terminal, and everything is restored afterwards."""

import logging
import warnings
from pathlib import Path

import pytest

from alttrain.quiet import library_output_to


def test_library_logs_and_warnings_go_to_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from transformers.utils import logging as transformers_logging  # its own handler is set up on import

    transformers_logging.get_logger("transformers")
    log = tmp_path / "logs" / "train.log"
    transformers_logger = logging.getLogger("transformers")
    before = (transformers_logger.handlers[:], transformers_logger.propagate)
    with library_output_to(log):
        logging.getLogger("transformers.modeling_utils").warning("a deprecation nobody asked about")
        warnings.warn("`gradient_checkpointing` is deprecated", FutureWarning, stacklevel=1)
    captured = capsys.readouterr()
    text = log.read_text()
    assert "a deprecation nobody asked about" in text and "gradient_checkpointing" in text
    assert "deprecat" not in captured.out + captured.err
    assert (transformers_logger.handlers, transformers_logger.propagate) == before
    with pytest.warns(FutureWarning):  # warnings reach the caller again once the block ends
        warnings.warn("after", FutureWarning, stacklevel=1)


def test_progress_bars_are_off_inside_and_back_on_after(tmp_path: Path) -> None:
    from transformers.utils import logging as transformers_logging

    with library_output_to(tmp_path / "x.log"):
        assert not transformers_logging.is_progress_bar_enabled()
    assert transformers_logging.is_progress_bar_enabled()
