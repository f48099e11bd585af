"""Pretraining hyper-parameters, kept free of torch so the CLI can build its parser quickly."""
from __future__ import annotations

from dataclasses import dataclass

MODES = ("lora", "partial", "full", "scratch")


@dataclass
class PretrainConfig:
    """Hyper-parameters; defaults follow the BERT paper where it applies to this small scale."""

    mode: str = "lora"
    steps: int = 1000
    batch_size: int = 32
    max_length: int = 128
    short_seq_prob: float = 0.1  # share of pairs packed to a random shorter length
    mlm_probability: float = 0.15
    whole_word_mask: bool = False
    minutes: float = 0.0  # if > 0, a wall-clock budget: the schedule ends at whichever comes first
    lr: float = 5e-4
    warmup: float = 0.06  # share of the schedule with a linear warm-up
    dropout: float | None = None  # None keeps the model's; 0 speeds up a short adaptation
    bf16: bool = False  # bfloat16 autocast: ~2x faster matmuls on CPUs with AVX512-BF16/AMX
    weight_decay: float = 0.01
    lora_rank: int = 32
    lora_alpha: int = 64
    unfreeze_layers: int = 2  # mode "partial": top encoder blocks trained in full
    seed: int = 0
