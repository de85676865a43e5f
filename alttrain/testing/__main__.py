"""``python -m alttrain.testing``: run the fault server (see :mod:`alttrain.testing.process`)."""

from alttrain.testing.process import main

main()
