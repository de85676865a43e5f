"""``python -m alttrain``: the same command line as ``alttrain``."""

from alttrain.cli import app

app(prog_name="alttrain")
