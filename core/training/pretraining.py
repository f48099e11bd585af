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
from typing import Callable

import torch
import torch.nn.functional as F
from transformers import DataCollatorForLanguageModeling

from core.training.config import MODES, PretrainConfig  # noqa: F401  (re-exported)
from core.training.kit import adamw, warmup_then_decay

IS_NEXT, NOT_NEXT = 0, 1  # BertForPreTraining's label convention
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
def tokenize_documents(documents: list[list[str]], tokenizer) -> list[list[list[int]]]:
    """Token ids (no special tokens) per sentence per document, tokenised once in a batch."""
    flat = [s for doc in documents for s in doc]
    ids = tokenizer(flat, add_special_tokens=False)["input_ids"]
    out, i = [], 0
    for doc in documents:
        out.append([s for s in ids[i:i + len(doc)] if s])
        i += len(doc)
    return [d for d in out if d]


def _truncate_pair(a: list[int], b: list[int], max_tokens: int, rng: random.Random) -> None:
    """Trim the longer segment, from a random end, until the pair fits (as BERT does)."""
    while len(a) + len(b) > max_tokens:
        longer = a if len(a) > len(b) else b
        del longer[0 if rng.random() < 0.5 else -1]


def make_pair_examples(docs_ids: list[list[list[int]]], tokenizer, max_length: int = 128,
                       short_seq_prob: float = 0.1, rng: random.Random | None = None,
                       groups: list[int] | None = None) -> list[dict]:
    """Sentence-pair examples with NSP labels, packed to `max_length` (call once per epoch).

    Each document is cut into chunks of whole sentences that fill the target length; a chunk is
    split at a random sentence boundary into A and B. Half of the time B is replaced by text
    from a random *other* document and the unused sentences are put back for the next chunk.
    `groups` (one label per document, e.g. its source) keeps that other document in the same
    group: on a mixed corpus a NotNext from another source also changes register (a manual
    after a dictionary), and the NSP head learns to spot the source instead of the topic.
    A document repeated to weigh its source up (the same list object) never pairs with itself.
    """
    rng = rng or random.Random(0)
    if len({id(doc) for doc in docs_ids}) < 2:
        raise ValueError("next-sentence prediction needs at least two documents")
    groups = groups or [0] * len(docs_ids)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    mixed = {g for g, m in members.items() if len({id(docs_ids[i]) for i in m}) >= 2}
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    max_tokens = max_length - 3  # [CLS] A [SEP] B [SEP]
    examples = []
    for d, doc in enumerate(docs_ids):
        target = max_tokens if rng.random() >= short_seq_prob else rng.randint(2, max_tokens)
        chunk, length, i = [], 0, 0
        while i < len(doc):
            chunk.append(doc[i])
            length += len(doc[i])
            if i == len(doc) - 1 or length >= target:
                split = len(chunk) == 1 and len(chunk[0]) >= 2
                if split:  # a lone sentence: A and B are its two halves (keeps labels 50/50)
                    cut = rng.randint(1, len(chunk[0]) - 1)
                    chunk = [chunk[0][:cut], chunk[0][cut:]]
                a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                a = [t for s in chunk[:a_end] for t in s]
                if len(chunk) == 1 or rng.random() < 0.5:
                    label = NOT_NEXT
                    pool = members[groups[d]] if groups[d] in mixed else range(len(docs_ids))
                    other_doc = doc
                    while other_doc is doc:  # any document of the group but this one
                        other_doc = docs_ids[rng.choice(pool)]
                    b = []
                    for s in other_doc[rng.randrange(len(other_doc)):]:
                        b.extend(s)
                        if len(b) >= target - len(a):
                            break
                    if not split:
                        i -= len(chunk) - a_end  # the sentences not used as A start the next chunk
                else:
                    label = IS_NEXT
                    b = [t for s in chunk[a_end:] for t in s]
                _truncate_pair(a, b, max_tokens, rng)
                if a and b:
                    examples.append({
                        "input_ids": [cls] + a + [sep] + b + [sep],
                        "token_type_ids": [0] * (len(a) + 2) + [1] * (len(b) + 1),
                        "special_tokens_mask": [1] + [0] * len(a) + [1] + [0] * len(b) + [1],
                        "next_sentence_label": label,
                    })
                chunk, length = [], 0
            i += 1
    rng.shuffle(examples)
    return examples


class PretrainingCollator(DataCollatorForLanguageModeling):
    """Pads pair examples and masks them anew on every call (dynamic masking, 80/10/10).

    Whole-word masking in transformers needs character offsets; for pre-tokenised ids they are
    synthesised from WordPiece's '##' continuation marks (a new word leaves a gap of one). With
    it, transformers replaces every chosen word by [MASK]s (no 10% random / 10% unchanged).
    """

    def torch_call(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        n = max(len(e["input_ids"]) for e in examples)

        def pad(key: str, value: int) -> torch.Tensor:
            return torch.tensor([e[key] + [value] * (n - len(e[key])) for e in examples])

        input_ids = pad("input_ids", self.tokenizer.pad_token_id)  # (B, T)
        special = pad("special_tokens_mask", 1)
        offsets = None
        if self.whole_word_mask:
            continuation = torch.tensor(_continuation_flags(self.tokenizer))[input_ids]  # (B, T)
            starts = torch.arange(n) + torch.cumsum((~continuation).long(), dim=1)
            offsets = torch.stack([starts, starts + 1], dim=-1)  # (B, T, 2)
        attention_mask = pad("input_ids", -1) != -1
        masked, labels = self.torch_mask_tokens(input_ids.clone(), special, offsets)
        return {
            "input_ids": masked,
            "attention_mask": attention_mask.long(),
            "token_type_ids": pad("token_type_ids", 0),
            "labels": labels,
            "next_sentence_label": torch.tensor([e["next_sentence_label"] for e in examples]),
        }


_CONTINUATION: dict[int, list[bool]] = {}


def _continuation_flags(tokenizer) -> list[bool]:
    """Per vocabulary id: is it a '##' word-piece continuation? (cached per tokenizer)"""
    key = id(tokenizer)
    if key not in _CONTINUATION:
        vocab = tokenizer.get_vocab()
        flags = [False] * (max(vocab.values()) + 1)
        for token, i in vocab.items():
            flags[i] = token.startswith("##")
        _CONTINUATION[key] = flags
    return _CONTINUATION[key]


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


def train(model, tokenizer, docs_ids: list[list[list[int]]], cfg: PretrainConfig,
          on_step: Callable[[StepStats], None] | None = None,
          cancel: threading.Event | None = None,
          eval_docs: list[list[list[int]]] | None = None, eval_every: int = 100,
          on_eval: Callable[[int, dict], None] | None = None, start_step: int = 0,
          groups: list[int] | None = None) -> list[StepStats]:
    """Run up to `cfg.steps` optimiser steps of MLM + NSP on `model` (already prepared).

    Examples are re-paired every epoch and re-masked every batch. The learning rate warms up
    and then decays linearly to 0 over the schedule, which ends at `cfg.steps` or after
    `cfg.minutes` of wall time, whichever comes first (a time budget on a shared CPU still ends
    annealed). `on_step` gets each step's numbers; setting `cancel` stops after the current
    step. With `eval_docs`, fixed masked batches are scored every `eval_every` steps and the
    result goes to `on_eval` (e.g. to checkpoint). `groups` labels each training document's
    source for NotNext sampling (see make_pair_examples).
    """
    rng = random.Random(cfg.seed + start_step)
    torch.manual_seed(cfg.seed + start_step)
    device = next(model.parameters()).device
    if cfg.dropout is not None:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = cfg.dropout
    collator = PretrainingCollator(tokenizer, mlm_probability=cfg.mlm_probability,
                                   whole_word_mask=cfg.whole_word_mask)
    eval_batches = []
    if eval_docs:
        eval_collator = PretrainingCollator(tokenizer, mlm_probability=cfg.mlm_probability, seed=1234)
        held = make_pair_examples(eval_docs, tokenizer, cfg.max_length, cfg.short_seq_prob, random.Random(1))
        held = held[: 8 * cfg.batch_size]
        eval_batches = [eval_collator(held[i:i + cfg.batch_size]) for i in range(0, len(held), cfg.batch_size)]
        eval_batches = [{k: v.to(device) for k, v in b.items()} for b in eval_batches]

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = adamw(model, cfg.lr, cfg.weight_decay)
    started = time.monotonic()

    def progress(step: int) -> float:
        by_time = (time.monotonic() - started) / (60 * cfg.minutes) if cfg.minutes > 0 else 0.0
        return max(step / cfg.steps, by_time)

    def set_lr(done: float) -> None:  # by time or by steps, whichever runs out first
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr * warmup_then_decay(done, cfg.warmup)

    model.train()
    history: list[StepStats] = []
    examples: list[dict] = []
    step = start_step
    while progress(step) < 1 and not (cancel is not None and cancel.is_set()):
        step += 1
        while len(examples) < cfg.batch_size:  # a new epoch: new pairs, new random B segments
            examples += make_pair_examples(docs_ids, tokenizer, cfg.max_length, cfg.short_seq_prob, rng, groups)
        batch = collator([examples.pop() for _ in range(cfg.batch_size)])
        batch = {k: v.to(device) for k, v in batch.items()}
        set_lr(progress(step - 1))
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
