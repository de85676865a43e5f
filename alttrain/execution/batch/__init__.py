"""The batch executor: rounds of deferred requests as Batch API batches or `vllm run-batch` files; batches.json."""
