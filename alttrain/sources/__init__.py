"""The ``prompts`` stage: user files, Hub datasets and peer presets as prompt sources, and the pool it builds.

The source contract, the file readers and the built-in sets live a layer below, in :mod:`alttrain.prompt_sets`.
"""
