"""Push the exported dataset and its card to the Hugging Face Hub (only when the config asks for it)."""

from __future__ import annotations

from pathlib import Path

import datasets
from huggingface_hub import HfApi

from alttrain.datasheets.config import DatasheetConfig
from alttrain.errors import DatasheetError


def push_dataset(hf_dir: Path, datasheet_dir: Path, sheet: DatasheetConfig) -> str:
    """Push the DatasetDict at ``hf_dir``, then the card, datasheet and figures; return the repo URL.

    The dataset is pushed first (it writes ``data/train-*``, which the card's ``configs`` names), then
    the datasheet folder replaces the generated README with the full card.

    Raises:
        DatasheetError: when pushing is not enabled, no repo id is set, or the token variable is empty.

    """
    if not sheet.push_to_hub or not sheet.hub_repo_id:
        raise DatasheetError("pushing needs datasheet.push_to_hub: true and datasheet.hub_repo_id")
    token = sheet.hub_token()
    if not token:
        raise DatasheetError(f"datasheet.push_to_hub is set but ${sheet.hub_token_env} is empty")
    dataset = datasets.load_from_disk(str(hf_dir))
    dataset.push_to_hub(sheet.hub_repo_id, token=token, private=sheet.hub_private)
    HfApi(token=token).upload_folder(
        repo_id=sheet.hub_repo_id,
        repo_type="dataset",
        folder_path=str(datasheet_dir),
        commit_message="Add the datasheet, dataset card and figures (alttrain)",
    )
    return f"https://huggingface.co/datasets/{sheet.hub_repo_id}"
