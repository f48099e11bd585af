"""A decoder that generates beside an encoder that fills gaps: one from-scratch transformer, two objectives.

Both twins are `core.bert.model.Bert` of the same size and the same initial weights, with the
language-model head tied to the word embeddings (logits = LN(GELU(h W + b)) W_tokᵀ + b). Only
the objective differs:

- **decoder** (GPT's): a causal mask lets token t see tokens 0..t only, and every position
  predicts the *next* token: loss = mean over t of −log p(x_{t+1} | x_0..x_t);
- **encoder** (BERT's MLM): every token sees every other; 15% of the tokens are hidden (80%
  [MASK], 10% a random token, 10% unchanged) and predicted: loss = mean over hidden t of
  −log p(x_t | all the others).

Same text, same batches, same steps, same learning rate. Both losses are means per predicted
token; the encoder sees both sides of each gap, the decoder only the left, and only the decoder
can continue a text.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from core.bert.config import BertConfig
from core.bert.model import Bert
from core.errors import UserError
from core.training import scratch
from core.training.scratch import ScratchSpec

MARKER = "twin.json"  # what makes a folder one of the twins
PROMPT = "A dog is"
GAP = "A dog is a [MASK] of the genus Canis."


def twin_spec(**fields) -> ScratchSpec:
    """The lab's from-scratch spec with the twins' defaults: blocks of 48 tokens and lr 2e-3 train
    both in about 80 s on 2 CPU cores (bench/RESULTS.md)."""
    return ScratchSpec(**{"max_length": 48, "lr": 2e-3, **fields})


def twin_config(spec: ScratchSpec, vocab_size: int) -> BertConfig:
    """A BERT of `spec`'s size with the tied LM head and no pooler or NSP head."""
    return BertConfig(vocab_size=vocab_size, hidden_size=spec.hidden, num_layers=spec.layers,
                      num_heads=spec.heads, intermediate_size=4 * spec.hidden, max_positions=spec.max_length,
                      pooler=False, nsp_head=False)


def blocks(docs_ids: list[list[list[int]]], cls: int, sep: int, length: int) -> list[list[int]]:
    """Each document's sentences run together and cut into [CLS] … [SEP] blocks of at most `length` tokens."""
    out = []
    for doc in docs_ids:
        flat = [i for sentence in doc for i in sentence]
        for start in range(0, len(flat), length - 2):
            piece = flat[start:start + length - 2]
            if len(piece) >= 4:
                out.append([cls, *piece, sep])
    return out


def batch_of(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask), padded to the longest row: (B, T) each."""
    n = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad] * (n - len(r)) for r in rows])
    return ids, (ids != pad).long()


def decoder_loss(model: Bert, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy under the causal mask: position t predicts token t + 1."""
    hidden, _ = model(ids, mask, causal=True)                   # (B, T, H)
    logits = model.mlm_logits(hidden[:, :-1])                     # (B, T-1, V)
    targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)      # padding is never a target
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)


def hide(ids: torch.Tensor, mask: torch.Tensor, special: torch.Tensor, mask_id: int, vocab: int,
         generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption: 15% of the real tokens chosen; of those 80% -> [MASK], 10% -> random, 10% kept.
    Returns (corrupted ids, targets with -100 where nothing is to be predicted)."""
    candidates = (mask == 1) & ~special
    chosen = (torch.rand(ids.shape, generator=generator) < 0.15) & candidates
    none = ~chosen.any(1) & candidates.any(1)  # rows where nothing was chosen get their first real token
    chosen[none, candidates[none].float().argmax(1)] = True
    roll = torch.rand(ids.shape, generator=generator)
    corrupted = ids.clone()
    corrupted[chosen & (roll < 0.8)] = mask_id
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    corrupted[swap] = torch.randint(vocab, ids.shape, generator=generator)[swap]
    return corrupted, ids.masked_fill(~chosen, -100)


def encoder_loss(model: Bert, ids: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked-word cross-entropy over the hidden positions only (the head runs only there)."""
    hidden, _ = model(ids, mask)                                  # (B, T, H)
    where = targets != -100
    return F.cross_entropy(model.mlm_logits(hidden[where]), targets[where])


@torch.no_grad()
def init_weights(model: Bert, std: float = 0.02) -> Bert:
    """BERT's initialisation: weights ~ N(0, 0.02²), biases 0, LayerNorm γ = 1 and β = 0.

    PyTorch's defaults (N(0, 1) embeddings) would start the tied head at a loss of ~35 instead of ln V ≈ 10.3.
    """
    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            module.weight.normal_(0.0, std)
        if isinstance(module, torch.nn.Linear) and module.bias is not None:
            module.bias.zero_()
        if isinstance(module, torch.nn.LayerNorm):
            module.weight.fill_(1.0)
            module.bias.zero_()
    return model


def train_twins(spec: ScratchSpec, reporter, out_dir: Path | str | None = None) -> dict:
    """Train the decoder and the encoder side by side; events "start", "step" (both losses), "sample".

    Cancelling (reporter.check_cancelled raising) stops it with nothing saved.
    """
    from core.training.pretrain_data import tokenize_documents

    spec.validate()
    reporter.report(0.0, "Reading and tokenizing the text…")
    tok = scratch.tokenizer()
    train_docs, _ = scratch.documents(spec)
    rows = blocks(tokenize_documents(train_docs, tok), tok.cls_token_id, tok.sep_token_id, spec.max_length)
    if not rows:
        raise UserError("The text gives no block of 4 tokens or more to train on: use a longer text.")
    torch.manual_seed(spec.seed)
    twins = {"decoder": init_weights(Bert(twin_config(spec, len(tok))))}
    twins["encoder"] = Bert(twin_config(spec, len(tok)))
    twins["encoder"].load_state_dict(twins["decoder"].state_dict())  # the same start: only the objective differs
    optimizers = {k: torch.optim.AdamW(m.parameters(), lr=spec.lr, weight_decay=0.01) for k, m in twins.items()}
    special = torch.zeros(len(tok), dtype=torch.bool)
    special[tok.all_special_ids] = True
    generator, rng = torch.Generator().manual_seed(spec.seed), random.Random(spec.seed)
    n_params = sum(p.numel() for p in twins["decoder"].parameters())
    reporter.report(0.0, f"Training two models of {n_params / 1e6:.1f}M parameters on {len(rows):,} blocks…",
                    type="start", parameters=n_params, blocks=len(rows), steps=spec.steps)
    started, history = time.perf_counter(), []
    for step in range(1, spec.steps + 1):
        reporter.check_cancelled()
        ids, mask = batch_of(rng.sample(rows, min(spec.batch_size, len(rows))), tok.pad_token_id)
        corrupted, targets = hide(ids, mask, special[ids], tok.mask_token_id, len(tok), generator)
        losses = {}
        for name, model in twins.items():
            model.train()
            loss = decoder_loss(model, ids, mask) if name == "decoder" else encoder_loss(model, corrupted, targets, mask)
            optimizers[name].zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizers[name].step()
            losses[name] = loss.item()
        history.append({"step": step, **losses})
        reporter.report(step / spec.steps, f"Step {step}/{spec.steps} · decoder loss {losses['decoder']:.2f} · "
                        f"encoder loss {losses['encoder']:.2f}", type="step", step=step,
                        decoder_loss=losses["decoder"], encoder_loss=losses["encoder"])
        if step % spec.sample_every == 0 or step == spec.steps:
            for m in twins.values():
                m.eval()
            _, steps = generate(twins["decoder"], tok, PROMPT, max_new=12, top_k=1)
            guesses = fill(twins["encoder"], tok, GAP)[0]
            new = tok.convert_tokens_to_string([s.token for s in steps if s.token != tok.sep_token])
            reporter.report(None, None, type="sample", step=step, continuation=new,
                            gap=[g["token"] for g in guesses[:3]])
    for m in twins.values():
        m.eval()
    summary = {"spec": asdict(spec), "parameters": n_params, "train_s": round(time.perf_counter() - started, 1),
               "history": history, "out": None}
    if out_dir is not None:
        reporter.report(1.0, "Saving…")
        summary["out"] = {name: str(save_twin(m, tok, Path(out_dir) / name, name, spec)) for name, m in twins.items()}
    return summary


def save_twin(model: Bert, tokenizer, folder: Path, objective: str, spec: ScratchSpec) -> Path:
    """model.safetensors + twin.json (objective, size) + the tokenizer: what `load_twin` reads."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "mlm.decoder.weight"}  # tied
    save_file(state, str(folder / "model.safetensors"))
    (folder / MARKER).write_text(json.dumps({"objective": objective, "config": asdict(model.config),
                                             "spec": asdict(spec)}, indent=1))
    tokenizer.save_pretrained(folder)
    return folder


def load_twin(folder: Path | str) -> tuple[Bert, object, str]:
    """(model in eval mode, tokenizer, objective) of a folder `save_twin` wrote; UserError otherwise."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    folder = Path(str(folder).removeprefix("local:"))
    if not (folder / MARKER).is_file() or not (folder / "model.safetensors").is_file():
        raise UserError(f"'{folder}' is not a model trained by the lab's decoder-vs-encoder tab "
                        f"(it has no {MARKER}).")
    meta = json.loads((folder / MARKER).read_text())
    model = Bert(BertConfig(**meta["config"]))
    result = model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=False)
    if result.unexpected_keys or set(result.missing_keys) - {"mlm.decoder.weight"}:  # that one is tied, not stored
        raise UserError(f"'{folder}' does not hold the weights its {MARKER} describes.")
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return model.eval(), tokenizer, meta["objective"]


@dataclass
class Step:
    """One generated token and the distribution it was sampled from (after temperature and top-k)."""

    token: str
    probability: float
    candidates: list[tuple[str, float]]  # the ten likeliest tokens of that distribution


@torch.no_grad()
def generate(model: Bert, tokenizer, prompt: str, max_new: int = 20, temperature: float = 1.0, top_k: int = 0,
             seed: int = 0) -> tuple[str, list[Step]]:
    """Continue `prompt` token by token: p = softmax(logits / T) over the top-k tokens (0 = all);
    top_k = 1 is greedy decoding. Seeded: the same arguments give the same text."""
    if not 1 <= max_new <= 200:
        raise UserError("Generate between 1 and 200 new tokens.")
    if not 0 < temperature <= 10:
        raise UserError("The temperature must be above 0 and at most 10 (1 = the model's own distribution).")
    if top_k < 0:
        raise UserError("top-k cannot be negative (0 = no cut-off).")
    ids = [tokenizer.cls_token_id, *tokenizer(prompt or "", add_special_tokens=False)["input_ids"]]
    room = model.config.max_positions - len(ids)
    if room < 1:
        raise UserError(f"The prompt fills the model's {model.config.max_positions} positions: shorten it.")
    banned = [i for i in tokenizer.all_special_ids if i != tokenizer.sep_token_id]
    generator = torch.Generator().manual_seed(seed)
    steps = []
    for _ in range(min(max_new, room)):
        hidden, _ = model(torch.tensor([ids]), causal=True)
        logits = model.mlm_logits(hidden[0, -1]).float() / temperature  # (V,)
        logits[banned] = float("-inf")
        if top_k:
            cut = logits.topk(min(top_k, logits.numel())).values[-1]
            logits = logits.masked_fill(logits < cut, float("-inf"))
        if top_k == 1:  # greedy, even when two tokens tie exactly
            logits = torch.full_like(logits, float("-inf")).index_fill_(0, logits.argmax().view(1), 0.0)
        probs = logits.softmax(-1)
        choice = int(torch.multinomial(probs, 1, generator=generator))
        top = probs.topk(10)
        steps.append(Step(tokenizer.convert_ids_to_tokens(choice), float(probs[choice]),
                          [(tokenizer.convert_ids_to_tokens(int(i)), float(p))
                           for p, i in zip(top.values, top.indices) if p > 0]))
        if choice == tokenizer.sep_token_id:
            break
        ids.append(choice)
    return tokenizer.decode(ids[1:], skip_special_tokens=True), steps


@torch.no_grad()
def fill(model: Bert, tokenizer, text: str, k: int = 5) -> list[list[dict]]:
    """Top-k guesses at each [MASK] of `text` (seeing both sides): [{"token", "probability"}] per mask."""
    enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=model.config.max_positions)
    where = (enc["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()
    if len(where) == 0:
        raise UserError("Write [MASK] where the encoder should guess a word.")
    hidden, _ = model(enc["input_ids"], enc["attention_mask"])
    probs = model.mlm_logits(hidden[0, where]).softmax(-1)  # (masks, V)
    top = probs.topk(k)
    return [[{"token": tokenizer.convert_ids_to_tokens(int(i)), "probability": float(p)}
             for p, i in zip(values, indices)] for values, indices in zip(top.values, top.indices)]
