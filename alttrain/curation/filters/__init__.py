"""Curation filters: each answers keep or drop-with-a-reason for every row of a polars frame."""
