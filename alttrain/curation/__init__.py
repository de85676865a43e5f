"""Curation: polars filters, dedup and balanced selection; every dropped record keeps its reason."""
