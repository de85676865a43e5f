"""Synthesis: teacher models write traces in the AltTrain structure; the prompt pool feeds them."""
