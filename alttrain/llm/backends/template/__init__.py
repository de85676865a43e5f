"""The template teacher: the backend (``backend.py``), its texts' loader (``loader.py``), the texts (``texts/``)."""

from alttrain.llm.backends.template.backend import TemplateBackend

__all__ = ["TemplateBackend"]
