"""Training: LoRA/QLoRA SFT on the curated set (unsloth on GPU, transformers + PEFT + TRL on CPU)."""
