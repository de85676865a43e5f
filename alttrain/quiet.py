"""Keep library chatter off the console and in the run's log file.

transformers, datasets, TRL, PEFT, accelerate, vLLM and Ray print progress bars, deprecation warnings
and INFO lines that say nothing to a user of alttrain. Inside :func:`library_output_to`, their loggers and
Python warnings go to a log file (``RUN/logs/<stage>.log``) instead of the terminal, and their progress
bars are off; alttrain's own rich output is untouched. Everything is restored on exit. Output that child
processes write straight to the terminal (vLLM's engine-core process) is not caught.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

LIBRARY_LOGGERS = ("transformers", "datasets", "trl", "peft", "accelerate", "huggingface_hub", "vllm", "ray",
                   "py.warnings")


def _set_library_bars(enabled: bool) -> None:
    """Switch the progress bars of transformers, datasets and huggingface_hub (those that are installed)."""
    with suppress(ImportError):
        from transformers.utils import logging as transformers_logging

        (transformers_logging.enable_progress_bar if enabled else transformers_logging.disable_progress_bar)()
    with suppress(ImportError):
        import datasets

        (datasets.enable_progress_bars if enabled else datasets.disable_progress_bars)()
    with suppress(ImportError):
        import huggingface_hub.utils as hub_utils

        (hub_utils.enable_progress_bars if enabled else hub_utils.disable_progress_bars)()


@contextmanager
def library_output_to(log_file: Path) -> Iterator[Path]:
    """Send library log records and warnings to ``log_file`` (appended) and turn their progress bars off."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    _set_library_bars(False)  # first: importing a library's logging module may attach its own handlers
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    saved = []
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate, logger.level))
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO)
    previous_bars = os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS")
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    logging.captureWarnings(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")  # each warning once per place, into the log
            yield log_file
    finally:
        _set_library_bars(True)
        logging.captureWarnings(False)
        if previous_bars is None:
            os.environ.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
        else:
            os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = previous_bars
        for logger, handlers, propagate, level in saved:
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)
        handler.close()
