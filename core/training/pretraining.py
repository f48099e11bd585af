"""BERT's two pretraining objectives (Devlin et al. 2018, section 3.1 and appendix A.1).

- Masked LM: 15% of the tokens are chosen per sequence, *freshly for every batch* (dynamic
  masking, as in RoBERTa); of those 80% become [MASK], 10% a random token, 10% stay unchanged.
  Optional whole-word masking. The masking itself is transformers' DataCollatorForLanguageModeling.
- Next sentence prediction: segment A is followed by its real continuation (label 0, IsNext)
  or, half of the time, by text from another document (label 1, NotNext); pairs are packed to a
  max length the way BERT's create_pretraining_data.py does.

The same loop serves two uses: *adapting* a pretrained encoder (LoRA via peft, partial
unfreezing or full fine-tuning; this is how the embedded model got its heads) and *pretraining a
small BERT from scratch* (the live page). It reports every step to a callback and stops when a
cancel event is set, so a UI thread can drive it.
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from core.training.config import MODES, PretrainConfig
from core.training.kit import adamw, warmup_then_decay
from core.training.pretrain_data import PretrainingCollator, make_pair_examples, tokenize_documents

# LoRA goes on every linear layer of every encoder block (attention q/k/v/output and the FFN).
LORA_TARGETS = r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)"

@dataclass
class StepStats:
    step: int
    mlm_loss: float
    nsp_loss: float
    mlm_acc: float
    nsp_acc: float


# ---------------------------------------------------------------------------------------- data
def split_sources(sources, seed: int = 0, held_out: float = 0.02):
    """Per source: (training documents, held-out documents, repeats); `held_out` of every source is
    held out, whole documents, before any repeat (so no copy of a held-out document trains)."""
    from core.inputs.corpus import split_documents

    return [(*split_documents(documents, held_out=held_out, seed=seed), times) for documents, times in sources]


def token_documents(sources, tokenizer, seed: int = 0):
    """(training documents as token ids, held-out documents, each training document's source index
    for NSP) of `core.inputs.corpus.load_sources`' output; a source marked *N is repeated N times
    (the same list objects, which make_pair_examples never pairs with themselves)."""
    docs_ids, held_ids, groups = [], [], []
    for g, (train_docs, held_docs, times) in enumerate(split_sources(sources, seed)):
        ids = tokenize_documents(train_docs, tokenizer) * times
        docs_ids += ids
        groups += [g] * len(ids)
        held_ids += tokenize_documents(held_docs, tokenizer)
    return docs_ids, held_ids, groups


# --------------------------------------------------------------------------------------- model
def small_bert_config(vocab_size: int, hidden: int = 128, layers: int = 2, heads: int = 2,
                      max_length: int = 128):
    """A BERT small enough to pretrain from scratch on a laptop CPU in minutes."""
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                      num_attention_heads=heads, intermediate_size=4 * hidden,
                      max_position_embeddings=max_length, attn_implementation="eager")


def init_heads(model, docs_ids: list[list[list[int]]]) -> None:
    """Start new heads where the encoder already is, instead of at random.

    - MLM output bias = log unigram frequency of the training tokens, so step 0 already predicts
      the prior (the tied decoder then only has to learn the context-dependent part).
    - MLM transform dense = identity plus a large bias, so GELU is ~linear and the LayerNorm
      removes the shift: the transform starts as LayerNorm(h), scoring h against the (tied,
      frozen) word embeddings.
    """
    counts = Counter(t for doc in docs_ids for s in doc for t in s)
    vocab = model.config.vocab_size
    freq = torch.ones(vocab)  # add-one smoothing
    for t, c in counts.items():
        freq[t] += c
    with torch.no_grad():
        log_prior = freq.log() - freq.sum().log()
        model.cls.predictions.bias.copy_(log_prior - log_prior.mean())
        dense = model.cls.predictions.transform.dense
        dense.weight.copy_(torch.eye(dense.weight.shape[0]))
        dense.bias.fill_(3.0)
        model.cls.predictions.transform.LayerNorm.reset_parameters()


def prepare_model(model, cfg: PretrainConfig):
    """Choose what trains; returns the model to optimise (a PeftModel in mode "lora").

    Word embeddings stay frozen when adapting (the MLM decoder is tied to them, and they then
    need not be shipped); heads, LayerNorms, the pooler and the segment embeddings always train.
    """
    if cfg.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if cfg.mode == "scratch":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    if cfg.mode == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=0.0,
                          target_modules=LORA_TARGETS, bias="none")
        model = get_peft_model(model, lora)
    top = model.config.num_hidden_layers - cfg.unfreeze_layers
    for name, p in model.named_parameters():
        layer = name.split("encoder.layer.")[1].split(".")[0] if "encoder.layer." in name else None
        p.requires_grad_(
            "lora_" in name
            or "LayerNorm" in name
            or ".cls." in f".{name}"
            or "pooler" in name
            or "token_type_embeddings" in name
            or (cfg.mode == "full" and "word_embeddings" not in name)
            or (cfg.mode == "partial" and layer is not None and int(layer) >= top)
        )
    return model


def bert_of(model):
    """The BertForPreTraining inside a PeftModel (LoRA layers are injected in place)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def pretraining_losses(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """(mlm_loss, nsp_loss, mlm_acc, nsp_acc) for a batch.

    The vocabulary projection runs only at the ~15% masked positions: on a CPU the full
    (B, T, 30522) logits of BertForPreTraining.forward would cost as much as the encoder.
    """
    bert = bert_of(model)
    out = bert.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    token_type_ids=batch["token_type_ids"])
    labels = batch["labels"]
    selected = labels != -100  # (B, T)
    mlm_logits = bert.cls.predictions(out.last_hidden_state[selected])  # (n_masked, vocab)
    mlm_loss = F.cross_entropy(mlm_logits, labels[selected])
    nsp_logits = bert.cls.seq_relationship(out.pooler_output)  # (B, 2)
    nsp_loss = F.cross_entropy(nsp_logits, batch["next_sentence_label"])
    mlm_acc = (mlm_logits.argmax(-1) == labels[selected]).float().mean().item()
    nsp_acc = (nsp_logits.argmax(-1) == batch["next_sentence_label"]).float().mean().item()
    return mlm_loss, nsp_loss, mlm_acc, nsp_acc


# ------------------------------------------------------------------------------------ training
def trainable_state(model) -> dict[str, torch.Tensor]:
    """The trained tensors under plain BertForPreTraining names (LoRA as '.lora_A/.lora_B')."""
    state = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            clean = name.removeprefix("base_model.model.").replace(".default", "")
            state[clean] = p.detach().clone().contiguous()
    return state


def save_checkpoint(model, path: Path, cfg: PretrainConfig, step: int, dtype=torch.float32,
                    extra: dict | None = None) -> None:
    """Write the trained tensors as safetensors; the recipe rides along as metadata."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {k: str(v) for k, v in {**asdict(cfg), "step": step, **(extra or {})}.items()}
    state = {k: v.to(dtype) for k, v in trainable_state(model).items()}
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp), metadata=meta)
    tmp.replace(path)  # never leave a half-written checkpoint behind


def load_trainable(model, path: Path) -> int:
    """Restore tensors saved by save_checkpoint into a prepared model; returns the saved step."""
    from safetensors import safe_open

    params = {n.removeprefix("base_model.model.").replace(".default", ""): p
              for n, p in model.named_parameters()}
    with safe_open(str(path), "pt") as f, torch.no_grad():
        for key in f.keys():
            params[key].copy_(f.get_tensor(key))
        return int(f.metadata().get("step", 0))


@torch.no_grad()
def evaluate(model, batches: list[dict]) -> dict[str, float]:
    """Mean losses and accuracies over fixed, already-masked batches."""
    model.eval()
    rows = [pretraining_losses(model, b) for b in batches]
    model.train()
    n = len(rows)
    return {"mlm_loss": sum(r[0].item() for r in rows) / n, "nsp_loss": sum(r[1].item() for r in rows) / n,
            "mlm_acc": sum(r[2] for r in rows) / n, "nsp_acc": sum(r[3] for r in rows) / n}


def set_dropout(model, p: float | None) -> None:
    """Every dropout layer to `p` (None: leave the model's own); 0 speeds up a short adaptation."""
    if p is not None:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = p


def held_out_batches(eval_docs: list[list[list[int]]], tokenizer, cfg: PretrainConfig, device) -> list[dict]:
    """Eight fixed, already-masked batches of held-out pairs (the same every evaluation)."""
    collator = PretrainingCollator(tokenizer, mlm_probability=cfg.mlm_probability, seed=1234)
    held = make_pair_examples(eval_docs, tokenizer, cfg.max_length, cfg.short_seq_prob, random.Random(1))
    held = held[: 8 * cfg.batch_size]
    batches = [collator(held[i:i + cfg.batch_size]) for i in range(0, len(held), cfg.batch_size)]
    return [{k: v.to(device) for k, v in b.items()} for b in batches]


def train(model, tokenizer, docs_ids: list[list[list[int]]], cfg: PretrainConfig,
          on_step: Callable[[StepStats], None] | None = None,
          cancel: threading.Event | None = None,
          eval_docs: list[list[list[int]]] | None = None, eval_every: int = 100,
          on_eval: Callable[[int, dict], None] | None = None, start_step: int = 0,
          groups: list[int] | None = None, batches: Iterator[dict] | None = None) -> list[StepStats]:
    """Run up to `cfg.steps` optimiser steps of MLM + NSP on `model` (already prepared).

    Examples are re-paired every epoch and re-masked every batch. The learning rate warms up
    and then decays linearly to 0 over the schedule, which ends at `cfg.steps` or after
    `cfg.minutes` of wall time, whichever comes first (a time budget on a shared CPU still ends
    annealed). `on_step` gets each step's numbers; setting `cancel` stops after the current
    step. With `eval_docs`, fixed masked batches are scored every `eval_every` steps and the
    result goes to `on_eval` (e.g. to checkpoint). `groups` labels each training document's
    source for NotNext sampling (see make_pair_examples). `batches` (collated, e.g. by DataLoader
    workers so a GPU never waits for Python) replaces the pairing and masking done here.
    """
    rng = random.Random(cfg.seed + start_step)
    torch.manual_seed(cfg.seed + start_step)
    device = next(model.parameters()).device
    set_dropout(model, cfg.dropout)
    collator = PretrainingCollator(tokenizer, mlm_probability=cfg.mlm_probability,
                                   whole_word_mask=cfg.whole_word_mask)
    eval_batches = held_out_batches(eval_docs, tokenizer, cfg, device) if eval_docs else []
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = adamw(model, cfg.lr, cfg.weight_decay)
    started = time.monotonic()

    def progress(step: int) -> float:
        by_time = (time.monotonic() - started) / (60 * cfg.minutes) if cfg.minutes > 0 else 0.0
        return max(step / cfg.steps, by_time)

    model.train()
    history: list[StepStats] = []
    examples: list[dict] = []
    step = start_step
    while progress(step) < 1 and not (cancel is not None and cancel.is_set()):
        step += 1
        if batches is None:
            while len(examples) < cfg.batch_size:  # a new epoch: new pairs, new random B segments
                examples += make_pair_examples(docs_ids, tokenizer, cfg.max_length, cfg.short_seq_prob, rng, groups)
            batch = collator([examples.pop() for _ in range(cfg.batch_size)])
        else:
            batch = next(batches)
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        for group in optimizer.param_groups:  # the schedule runs by time or by steps, whichever ends first
            group["lr"] = cfg.lr * warmup_then_decay(progress(step - 1), cfg.warmup)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            mlm_loss, nsp_loss, mlm_acc, nsp_acc = pretraining_losses(model, batch)
        optimizer.zero_grad(set_to_none=True)
        (mlm_loss + nsp_loss).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        stats = StepStats(step, mlm_loss.item(), nsp_loss.item(), mlm_acc, nsp_acc)
        history.append(stats)
        if on_step is not None:
            on_step(stats)
        if eval_batches and on_eval is not None and (step % eval_every == 0 or progress(step) >= 1):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                result = evaluate(model, eval_batches)
            on_eval(step, result)
    model.eval()
    return history


def log_line(stats: StepStats, started: float) -> str:
    """One human-readable progress line."""
    return (f"step {stats.step:5d}  mlm {stats.mlm_loss:6.3f} ({stats.mlm_acc:5.1%})  "
            f"nsp {stats.nsp_loss:5.3f} ({stats.nsp_acc:5.1%})  {time.time() - started:7.0f}s")
