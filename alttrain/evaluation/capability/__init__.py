"""Capability benchmarks: reasoning, math, QA, summarization and multiple choice, each with its reference scorer."""
