"""Scale-out on Ray: rows through alttrain's own engine on a pool of actors, one teacher client per actor.

Layer 2, beside :mod:`alttrain.llm`: it imports the LLM layer and the spine, never a stage. A stage
describes its work as a :class:`~alttrain.execution.jobs.ClientJob`; the ray executor
(:mod:`alttrain.execution.ray`) hands it to :func:`~alttrain.scaleout.driver.run_on_ray`, which runs it with
the same cache keys, the same row outcomes and the same resume guarantees as a local run.
"""
