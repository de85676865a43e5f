"""Teacher backends: openai-compatible, vllm (GPU), local (embedded GGUF server) and template (rule-based)."""
