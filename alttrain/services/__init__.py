"""Servers alttrain hosts for a stage but that are not stage logic (the review stage's local Argilla)."""
