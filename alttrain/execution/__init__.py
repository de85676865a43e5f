"""Executors: a job's records in, one row per record in order, through teacher clients over the run's cache.

Layer 2, beside :mod:`alttrain.llm` and :mod:`alttrain.scaleout`. A stage describes its work as a
:class:`~alttrain.execution.jobs.ClientJob` and hands it to the executor its ``executor:`` section names
(:mod:`alttrain.execution.registry`): ``local`` (one client here), ``ray`` (an actor pool,
:mod:`alttrain.scaleout`) or ``batch`` (Batch API batches, or files for ``vllm run-batch``). Each returns the
same :class:`~alttrain.execution.base.Execution`: the rows, the client counts and the ``RUN/scaleout.json``
report.
"""
