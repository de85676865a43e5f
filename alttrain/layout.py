"""The run directory's layout: the one name of every file or folder a stage reads or writes.

```
RUN/config.yaml  .stages/<stage>.json  logs/<stage>.log
    prompts.parquet  synthesized.parquet  cache.sqlite  scaleout.json  teacher_probe/{prompts,synthesized}.parquet
    batches.json  batch/{round-NNN.jsonl, round-NNN-{output,errors}-<hash of file id>.jsonl, vllm_{input,output}.jsonl}
    curated.parquet  rejected.parquet  curation_report.json  reviewed.parquet  review_report.json
    datasheet/{DATASHEET.md, README.md, figures/}
    dataset/{hf/, train.jsonl, train_reasoning_content.jsonl, instruction_response.jsonl, train.parquet}
    model/{adapter/, merged/, train_report.json, loss.png}
    eval/{report.md, report.json, paper_table.md, paper_table.json, selection.json, outputs.parquet, cache.sqlite,
          scaleout.json, figures/}
```

Names inside a folder (``*_NAME``) are also used by the functions that write such a folder anywhere
(a test's temporary folder, say); the run-relative paths are built from them here.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_FILE = "config.yaml"  # the resolved config and its fingerprint
STAMP_DIR = ".stages"  # one <stage>.json per finished stage: its fingerprint and wall time
LOGS_DIR = Path("logs")  # <stage>.log: what libraries printed while a stage ran (warnings, INFO lines)

PROMPTS_FILE = "prompts.parquet"
SYNTHESIZED_FILE = "synthesized.parquet"
CACHE_FILE = "cache.sqlite"  # the teacher cache; evaluation keeps its own in eval/
SCALEOUT_NAME = "scaleout.json"  # how a stage's rows were made: executor, actors, per-actor accounting
SCALEOUT_FILE = SCALEOUT_NAME  # synthesis's (alttrain.scaleout.accounting.ScaleoutReport)
PROBE_DIR = "teacher_probe"
BATCHES_FILE = "batches.json"  # the batch teacher's rounds, batch ids, failures and accounting
BATCH_DIR = Path("batch")  # batch input files, downloaded output and error files
VLLM_INPUT_NAME = "vllm_input.jsonl"  # --export writes it for `vllm run-batch -i`
VLLM_OUTPUT_NAME = "vllm_output.jsonl"  # --ingest reads what `vllm run-batch -o` wrote
CURATED_FILE = "curated.parquet"
REJECTED_FILE = "rejected.parquet"
CURATION_REPORT_FILE = "curation_report.json"
REVIEWED_FILE = "reviewed.parquet"
REVIEW_REPORT_FILE = "review_report.json"

FIGURES_NAME = "figures"

DATASHEET_DIR = Path("datasheet")
DATASHEET_NAME = "DATASHEET.md"
CARD_NAME = "README.md"  # the Hugging Face dataset card
DATASHEET_FILE = DATASHEET_DIR / DATASHEET_NAME
CARD_FILE = DATASHEET_DIR / CARD_NAME

DATASET_DIR = Path("dataset")
HF_NAME = "hf"
CHAT_NAME = "train.jsonl"
REASONING_CONTENT_NAME = "train_reasoning_content.jsonl"
INSTRUCTION_NAME = "instruction_response.jsonl"
PARQUET_NAME = "train.parquet"
DATASET_HF_DIR = DATASET_DIR / HF_NAME

MODEL_DIR = Path("model")
ADAPTER_NAME = "adapter"
MERGED_NAME = "merged"
TRAIN_REPORT_NAME = "train_report.json"
LOSS_PLOT_NAME = "loss.png"
ADAPTER_DIR = MODEL_DIR / ADAPTER_NAME

EVAL_DIR = Path("eval")
REPORT_MD_NAME = "report.md"
REPORT_JSON_NAME = "report.json"
OUTPUTS_NAME = "outputs.parquet"
PAPER_TABLE_MD_NAME = "paper_table.md"
PAPER_TABLE_JSON_NAME = "paper_table.json"
SELECTION_NAME = "selection.json"  # every benchmark's selected ids, seed, n, commit, license
EVAL_REPORT_MD = EVAL_DIR / REPORT_MD_NAME
EVAL_REPORT_JSON = EVAL_DIR / REPORT_JSON_NAME
EVAL_PAPER_TABLE_MD = EVAL_DIR / PAPER_TABLE_MD_NAME
EVAL_PAPER_TABLE_JSON = EVAL_DIR / PAPER_TABLE_JSON_NAME
EVAL_SELECTION = EVAL_DIR / SELECTION_NAME
EVAL_CACHE_FILE = EVAL_DIR / CACHE_FILE
EVAL_SCALEOUT_FILE = EVAL_DIR / SCALEOUT_NAME
