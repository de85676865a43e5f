"""The run directory's layout: the one name of every file or folder a stage reads or writes.

RUN/config.yaml  prompts.parquet  synthesized.parquet  cache.sqlite  teacher_probe/
curated.parquet  rejected.parquet  curation_report.json  reviewed.parquet  review_report.json
datasheet/  dataset/hf/  model/  eval/
"""

from __future__ import annotations

from pathlib import Path

PROMPTS_FILE = "prompts.parquet"
SYNTHESIZED_FILE = "synthesized.parquet"
CACHE_FILE = "cache.sqlite"  # the teacher cache; evaluation keeps its own in eval/
PROBE_DIR = "teacher_probe"
CURATED_FILE = "curated.parquet"
REJECTED_FILE = "rejected.parquet"
CURATION_REPORT_FILE = "curation_report.json"
REVIEWED_FILE = "reviewed.parquet"
REVIEW_REPORT_FILE = "review_report.json"
DATASHEET_DIR = "datasheet"
DATASET_DIR = "dataset"
DATASET_HF_DIR = Path(DATASET_DIR) / "hf"
MODEL_DIR = "model"
EVAL_DIR = "eval"
