"""A zero-infrastructure local Argilla: its own venv, Redis on loopback, SQLite, alttrain's SQL search."""
