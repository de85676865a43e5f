import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer
from typer.testing import CliRunner

from alttrain.cli import app
from alttrain.models.precision import cpu_has_native_bf16
from alttrain.structure import StructureSpec
from alttrain.training.config import TrainingConfig
from alttrain.training.run import train_model

SPEC = StructureSpec()
runner = CliRunner()


def logits(model: Any, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).logits


def benign_prompt_ids(tokenizer: Any, rows: list[dict]) -> torch.Tensor:
    user = next(row for row in rows if row["label"] == "benign")["messages"][:1]
    text = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]


def test_tiny_model_trains_reloads_merges_and_generates(
    tiny_model_path: Path, save_rows: Callable, standin_rows: list[dict], tmp_path: Path
) -> None:
    dataset = save_rows(standin_rows)
    config = TrainingConfig(model=str(tiny_model_path), max_steps=None, epochs=1, batch_size=2, max_length=1024,
                            merge=True, seed=3, precision="fp32")  # fp32: the merged logits must match closely
    result = train_model(config, dataset, tmp_path / "model", spec=SPEC)

    report = json.loads(result.report_path.read_text())
    assert result.backend == report["backend"] == "hf"
    assert result.steps == report["steps"] == 6 == len(report["loss_curve"])  # 12 rows, batch 2, one epoch
    assert report["data"] == {"rows_in": 12, "rows_used": 12, "dropped": {}, "truncated": 0,
                              "trained_tokens_per_epoch": report["trained_tokens"]}
    assert result.trained_tokens == report["trained_tokens"] > report["template_check"]["trained_tokens"] > 0
    assert report["input_tokens"] > report["trained_tokens"]
    assert report["precision"] == "fp32" and report["optimizer"] == "adamw_torch"
    assert report["format"] == "prompt_completion" and report["chat_template"] == "tokenizer"
    assert report["peak_memory_kind"] == "cpu_max_rss" and report["peak_memory_bytes"] > 0
    assert report["trained_tokens_per_second"] > 0 and report["wall_seconds"] >= report["train_seconds"] > 0
    assert result.loss_plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # PEFT writes target_modules from a set (ordered by the process's string hashing); saved sorted, one run
    # writes one file
    saved = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert saved["target_modules"] == sorted(config.lora.target_modules)

    tokenizer = AutoTokenizer.from_pretrained(str(result.adapter_dir))
    assert tokenizer.chat_template == AutoTokenizer.from_pretrained(str(tiny_model_path)).chat_template
    ids = benign_prompt_ids(tokenizer, standin_rows)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_path))
    base_logits = logits(base, ids)
    adapted = PeftModel.from_pretrained(base, str(result.adapter_dir))
    merged = AutoModelForCausalLM.from_pretrained(str(result.merged_dir))
    assert torch.allclose(logits(adapted, ids), logits(merged, ids), atol=1e-4)
    assert not torch.allclose(base_logits, logits(merged, ids), atol=1e-4)
    generated = merged.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert generated.shape[1] > ids.shape[1]


def test_smollm2_loss_goes_down_and_the_merged_model_generates(
    smollm2_path: Path, save_rows: Callable, standin_rows: list[dict], tmp_path: Path
) -> None:
    # One short example repeated: every step sees the same batch, so a high lr must lower the loss.
    row = min(standin_rows, key=lambda r: len(r["trace"]))
    dataset = save_rows([row] * 8)
    config = TrainingConfig(max_steps=5, batch_size=2, max_length=256, learning_rate=1e-3, warmup_steps=0,
                            lr_scheduler="constant", merge=True)
    result = train_model(config, dataset, tmp_path / "model", spec=SPEC)

    report = json.loads(result.report_path.read_text())
    losses = [point["loss"] for point in report["loss_curve"]]
    assert len(losses) == result.steps == 5
    assert losses[-1] < 0.8 * losses[0], losses
    # precision auto: bf16 on a CPU that computes it natively (this project's machines do), the adapter fp32
    assert report["precision"] == ("bf16" if cpu_has_native_bf16() else "fp32")
    adapter = load_file(result.adapter_dir / "adapter_model.safetensors")
    assert adapter and {tensor.dtype for tensor in adapter.values()} == {torch.float32}

    tokenizer = AutoTokenizer.from_pretrained(str(result.merged_dir))
    merged = AutoModelForCausalLM.from_pretrained(str(result.merged_dir))
    ids = benign_prompt_ids(tokenizer, standin_rows)
    generated = merged.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert generated.shape[1] > ids.shape[1]


def write_run_config(tmp_path: Path, training: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"name": "tr", "prompts": {"sources": [{"kind": "harmbench"}]},
                                    "training": training}))
    return path


def test_cli_train_reports_steps_loss_and_tokens(
    tiny_model_path: Path, save_rows: Callable, standin_rows: list[dict], tmp_path: Path
) -> None:
    dataset = save_rows(standin_rows[:4])
    run_dir = dataset.parent.parent
    config = write_run_config(tmp_path, {"model": str(tiny_model_path), "max_steps": 2, "max_length": 1024})
    result = runner.invoke(app, ["train", "--config", str(config), "--run-dir", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "2 steps" in result.output and "trained tokens" in result.output
    assert (run_dir / "model" / "adapter" / "adapter_model.safetensors").exists()
    assert not (run_dir / "model" / "merged").exists()
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["training"]["learning_rate"] == 1e-3


def test_cli_train_fails_fast_on_a_template_that_loses_the_think_block(
    tiny_model_path: Path, save_rows: Callable, standin_rows: list[dict], tmp_path: Path
) -> None:
    from alttrain.models.templates import shipped_template

    turn = "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}"
    marked = tmp_path / "r1_marked.j2"
    marked.write_text(shipped_template("deepseek_r1_distill").text.replace(
        turn, "{% generation %}" + turn + "{% endgeneration %}"))
    dataset = save_rows(standin_rows[:2])
    config = write_run_config(tmp_path, {"model": str(tiny_model_path), "chat_template": str(marked),
                                         "format": "conversation"})
    result = runner.invoke(app, ["train", "--config", str(config), "--run-dir", str(dataset.parent.parent)])
    assert result.exit_code == 2
    assert "think block is lost" in result.output and "Traceback" not in result.output
    assert not (dataset.parent.parent / "model").exists()


@pytest.mark.parametrize(
    ("training", "message"),
    [
        ({}, "not found (run the 'datasheet' stage first)"),
        ({"model": "/nonexistent/model-dir"}, "not found"),
    ],
)
def test_cli_train_user_errors_exit_2(training: dict, message: str, tmp_path: Path) -> None:
    config = write_run_config(tmp_path, training)
    result = runner.invoke(app, ["train", "--config", str(config), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert message in result.output
