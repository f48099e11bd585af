"""Every training run's hyper-parameters, each default written once: the pages, the code and the
CLI read them here (`finetune` and `distill` build their flags from these dataclasses, `pretrain`
its defaults). Free of torch, so the CLI builds its parser quickly."""
from __future__ import annotations

from dataclasses import dataclass

from core.errors import UserError

MODES = ("lora", "partial", "full", "scratch")  # what pretraining trains
PRECISIONS = ("auto", "no", "bf16", "fp16")
METRICS = ("auto", "accuracy", "f1")  # what picks a fine-tune's best checkpoint; auto: the task's own
LAYER_CHOICES = ("first", "spread")  # which teacher layers a distilled student keeps


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


@dataclass
class TrainConfig:
    """Hyper-parameters; the defaults fine-tune MiniLM on a few thousand sentences in minutes on 2 cores."""

    epochs: int = 2
    batch_size: int = 16
    lr: float = 5e-5
    max_length: int = 64
    grad_accum: int = 1
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    patience: int = 0  # evaluations without improvement before stopping; 0 = never stop early
    eval_every: int = 0  # optimizer steps between evaluations; 0 = once per epoch
    seed: int = 42
    precision: str = "auto"  # auto: bf16 on CUDA that supports it, else fp16 on CUDA, else fp32
    metric: str = "auto"  # the validation metric that picks the best checkpoint (auto: accuracy, entity / span F1)

    def validate(self) -> None:
        checks = [
            (self.epochs >= 1, "Epochs must be at least 1."),
            (1 <= self.batch_size <= 1024, "Batch size must be between 1 and 1024."),
            (0 < self.lr < 1, "The learning rate must be between 0 and 1 (try 5e-5)."),
            (8 <= self.max_length <= 512, "Max length must be between 8 and 512 tokens."),
            (self.grad_accum >= 1, "Gradient accumulation must be at least 1."),
            (self.weight_decay >= 0, "Weight decay cannot be negative."),
            (0 <= self.warmup_ratio < 1, "Warmup must be a fraction of training between 0 and 1."),
            (self.max_grad_norm > 0, "Gradient clipping must be positive."),
            (self.patience >= 0 and self.eval_every >= 0, "Patience and eval-every cannot be negative."),
            (self.precision in PRECISIONS, f"Precision must be one of {', '.join(PRECISIONS)}."),
            (self.metric in METRICS, f"The metric must be one of {', '.join(METRICS)}."),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)


@dataclass
class DistillConfig:
    """Hyper-parameters of one student run; the defaults distil MiniLM-L6 to 2 layers in ~2 minutes on one CPU thread."""

    student_layers: int = 2
    layer_choice: str = "spread"  # spread: k layers evenly over the depth (measured better); first: 0..k-1
    temperature: float = 2.0
    alpha: float = 0.5  # weight of the soft (teacher) term; 0 = student trained alone
    epochs: int = 3
    batch_size: int = 32
    lr: float = 5e-4
    max_length: int = 64
    seed: int = 0

    def validate(self) -> None:
        checks = [
            (self.student_layers >= 1, "The student needs at least 1 layer."),
            (self.layer_choice in LAYER_CHOICES, f"Layer choice must be one of {', '.join(LAYER_CHOICES)}."),
            (0.5 <= self.temperature <= 50, "The temperature must be between 0.5 and 50 (try 2)."),
            (0 <= self.alpha <= 1, "Alpha must be between 0 (labels only) and 1 (teacher only)."),
            (1 <= self.epochs <= 100, "Epochs must be between 1 and 100."),
            (1 <= self.batch_size <= 1024, "Batch size must be between 1 and 1024."),
            (0 < self.lr < 1, "The learning rate must be between 0 and 1 (try 5e-4)."),
            (8 <= self.max_length <= 512, "Max length must be between 8 and 512 tokens."),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)


# The explain page's one-click classifier: the embedded model reaches 81% on the built-in
# validation split with it, in about 50 s on 2 cores.
QUICK_FINETUNE = TrainConfig(epochs=3, lr=1e-4)
