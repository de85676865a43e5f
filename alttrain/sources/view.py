"""What the ``prompts`` stage reads of the run config."""

from __future__ import annotations

from alttrain.sources.pool import PromptsConfig
from alttrain.stage import StageView


class PromptsView(StageView):
    """The prompt sources."""

    prompts: PromptsConfig
