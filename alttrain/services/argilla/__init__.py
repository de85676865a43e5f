"""A zero-infrastructure local Argilla: its own venv, Redis on loopback, SQLite, alttrain's SQL search.

``config.py`` (the ``review.server`` settings), ``venv.py`` (argilla-server's own venv), ``local.py``
(start and stop). ``plugin/`` is package data, not a subpackage: its module runs inside argilla-server's
venv, never inside alttrain's (alttrain imports nothing from it).
"""
