"""Prompt sources (built-in prompt sets, user files) and the prompt pool the ``prompts`` stage builds."""
