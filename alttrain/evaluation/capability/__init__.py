"""Capability benchmarks: reasoning, math, QA, summarization and multiple choice, each graded by its reference scorer."""
