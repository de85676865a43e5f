"""``python -m alttrain.testing``: run the fault server (see :mod:`alttrain.testing.fault_server`)."""

from alttrain.testing.fault_server import main

main()
