"""Datasheets: Gebru et al. datasheets, Hugging Face dataset cards and exports from run provenance."""
