"""Prompt sets below the stages: the source contract and safe readers (``base``), the built-in sets (``builtin``).

The ``prompts`` stage (:mod:`alttrain.sources`) builds its pool from them and evaluation loads the same sets
as benchmarks, so both give a prompt the same id.
"""
