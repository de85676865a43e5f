"""Randomly initialised Llama checkpoints built offline, for fast tests and GPU benchmarks.

No weights are downloaded: the architecture comes from a ``LlamaConfig`` shape and the tokenizer
from an existing checkpoint directory (for example the converted SmolLM2 one), optionally retrained
to a small vocabulary on a given corpus (same pipeline, special tokens and chat template): a
49k-entry output layer would otherwise dominate a tiny model's step time.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

SHAPES: dict[str, dict[str, int]] = {
    # two layers, tiny width: trains in well under a second per step on a CPU
    "tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2},
    # SmolLM2-135M's shape: same compute per token as the real model, for throughput benchmarks
    "smollm2-135m": {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
                     "num_attention_heads": 9, "num_key_value_heads": 3},
}


def build_random_model(
    directory: Path,
    tokenizer_source: str | Path,
    shape: str = "tiny",
    seed: int = 0,
    vocab_corpus: Iterable[str] | None = None,
    vocab_size: int = 512,
) -> Path:
    """Save a random Llama of ``shape`` with ``tokenizer_source``'s tokenizer to ``directory``; return it.

    With ``vocab_corpus`` the tokenizer is first retrained on it to ``vocab_size`` entries.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer: Any = AutoTokenizer.from_pretrained(str(tokenizer_source))
    if vocab_corpus is not None:
        tokenizer = tokenizer.train_new_from_iterator(vocab_corpus, vocab_size=vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
        **SHAPES[shape],
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
