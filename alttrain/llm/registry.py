"""The backend registry: a backend is one module in ``llm/backends/`` plus one line in :data:`BACKENDS`.

Each entry maps the name a config writes (``teacher.backend``, ``evaluation.models.<name>.backend``) to
``module:Class``; the class is imported only when needed (:func:`alttrain.llm.backends.backend_class`),
since each backend pulls its own dependencies. What a backend can do is an attribute of its class, never
read from its name.
"""

BACKENDS: dict[str, str] = {
    "openai": "alttrain.llm.backends.openai_backend:OpenAIBackend",  # any OpenAI-compatible endpoint
    "vllm": "alttrain.llm.backends.vllm_backend:VLLMBackend",  # vLLM's async engine in this process
    "local": "alttrain.llm.backends.local:LocalBackend",  # the embedded GGUF model behind a llama.cpp server
    "template": "alttrain.llm.backends.template:TemplateBackend",  # rule-based traces, no model
    "transformers": "alttrain.llm.backends.transformers_backend:TransformersBackend",  # a checkpoint (+ adapter) here
}
