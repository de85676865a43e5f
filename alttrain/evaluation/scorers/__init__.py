"""Reference scorers of capability benchmarks: each item names its scorer (``scorer`` column), see :mod:`.registry`."""
