"""Make a fine-tuned classifier smaller: remove whole attention heads, or zero its smallest weights.

- Head pruning (Michel et al. 2019, "Are Sixteen Heads Really Better than One?"): put a gate
  xi_h = 1 on every head's output, and score a head by |dL/dxi_h| summed over data (how much the
  loss would move if the head were scaled away), scores normalised per layer. Removing the
  lowest-scored heads really deletes rows of the query/key/value projections and columns of the
  output projection, so the model gets smaller and faster. transformers 5 dropped `prune_heads`
  and `head_mask`, so the gates are hooks and the surgery uses its `prune_linear_layer`; what
  was removed is recorded in `config.pruned_heads` as before.
- Magnitude pruning: zero the given share of the encoder's linear weights with the smallest
  |w| (torch.nn.utils.prune, global L1). The tensors stay dense, so without sparse kernels the
  model is *not* faster: the page shows that too.

Everything works on copies; a shared model is never changed.
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers.pytorch_utils import prune_linear_layer

from core.inputs.datasets import LabelledTexts
from core.training.distill import latencies_ms, score, size_of
from core.errors import UserError
from core.progress import SilentReporter, SubProgress
from core.models.arch import max_length_of
from core.training.kit import collate, tokenize

SUPPORTED = ("bert", "roberta", "distilbert")


@dataclass
class Attention:
    """Where one layer's heads live: the module holding q/k/v and the output projection's owner."""

    module: torch.nn.Module
    qkv: tuple[str, str, str]
    out_owner: torch.nn.Module
    out_name: str

    @property
    def head_size(self) -> int:
        return self.module.attention_head_size

    @property
    def n_heads(self) -> int:
        return getattr(self.module, self.qkv[0]).out_features // self.head_size


def attentions(model) -> list[Attention]:
    """One `Attention` per encoder layer of a BERT, RoBERTa or DistilBERT model."""
    kind = model.config.model_type
    if kind == "distilbert":
        return [Attention(l.attention, ("q_lin", "k_lin", "v_lin"), l.attention, "out_lin")
                for l in model.base_model.transformer.layer]
    if kind in ("bert", "roberta"):
        return [Attention(l.attention.self, ("query", "key", "value"), l.attention.output, "dense")
                for l in model.base_model.encoder.layer]
    raise UserError(f"Head pruning supports {', '.join(SUPPORTED)} models, not {kind} "
                    "(ALBERT shares one layer across its whole depth).")


def original_heads(model) -> int:
    return getattr(model.config, "num_attention_heads", None) or model.config.n_heads


def pruned_heads(model) -> dict[int, list[int]]:
    """{layer: [original head ids removed]} so far."""
    return {int(k): sorted(v) for k, v in (getattr(model.config, "pruned_heads", None) or {}).items()}


def prune_heads(model, heads: dict[int, list[int]]) -> None:
    """Remove `heads` ({layer: [head ids in the original numbering]}) from `model` in place.

    At least one head must stay in every layer (a layer with no heads has no attention to compute).
    """
    layers = attentions(model)
    done = pruned_heads(model)
    total = original_heads(model)
    for layer, remove in heads.items():
        if not 0 <= layer < len(layers):
            raise UserError(f"The model has layers 0 to {len(layers) - 1}, not {layer}.")
        if any(not 0 <= h < total for h in remove):
            raise UserError(f"Heads are numbered 0 to {total - 1}.")
        gone = set(done.get(layer, []))
        alive = [h for h in range(total) if h not in gone]  # original ids, in their current order
        new = set(remove) - gone
        if not new:
            continue
        keep = [i for i, h in enumerate(alive) if h not in new]
        if not keep:
            raise UserError(f"Layer {layer} would lose all its heads: keep at least one per layer.")
        att = layers[layer]
        d = att.head_size
        index = torch.cat([torch.arange(i * d, (i + 1) * d) for i in keep])
        for name in att.qkv:
            setattr(att.module, name, prune_linear_layer(getattr(att.module, name), index, dim=0))
        setattr(att.out_owner, att.out_name, prune_linear_layer(getattr(att.out_owner, att.out_name), index, dim=1))
        if hasattr(att.module, "num_attention_heads"):
            att.module.num_attention_heads = len(keep)
            att.module.all_head_size = len(keep) * d
        else:
            att.module.n_heads = len(keep)
        done[layer] = sorted(gone | new)
    model.config.pruned_heads = {k: v for k, v in sorted(done.items())}


def _batches(tokenizer, data: LabelledTexts, max_length: int, batch_size: int, device):
    ids = tokenize(tokenizer, data.texts, max_length)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(ids), batch_size):
        yield (collate(ids[start:start + batch_size], pad, device),
               torch.as_tensor(data.labels[start:start + batch_size], device=device))


def head_importance(model, tokenizer, data: LabelledTexts, max_length: int = 64, batch_size: int = 32,
                    normalize: bool = True, reporter=None) -> torch.Tensor:
    """(layers, heads) Michel et al. scores: sum over batches of |dLoss/d gate|, L2-normalised per layer.

    Works on a copy with every head still in place; the model passed in is not changed.
    """
    reporter = reporter or SilentReporter()
    if pruned_heads(model):
        raise UserError("Score heads on the unpruned model.")
    work = copy.deepcopy(model).eval()
    for p in work.parameters():
        p.requires_grad_(False)
    layers = attentions(work)
    device = next(work.parameters()).device
    gates = torch.ones(len(layers), original_heads(work), device=device, requires_grad=True)
    hooks = []
    for i, att in enumerate(layers):
        def gate(_module, args, i=i, d=att.head_size):  # args[0]: (B, T, heads * d), heads concatenated
            x = args[0]
            return (x.view(*x.shape[:-1], -1, d) * gates[i][:, None]).view(x.shape),
        hooks.append(getattr(att.out_owner, att.out_name).register_forward_pre_hook(gate))
    scores = torch.zeros_like(gates)
    max_length = min(max_length, max_length_of(work.config))
    n_batches = -(-len(data) // batch_size)
    try:
        for b, (inputs, labels) in enumerate(_batches(tokenizer, data, max_length, batch_size, device)):
            reporter.check_cancelled()
            loss = F.cross_entropy(work(**inputs).logits.float(), labels)
            grad, = torch.autograd.grad(loss, gates)
            scores += grad.abs().detach()
            reporter.report((b + 1) / n_batches, f"Scoring heads: batch {b + 1}/{n_batches}")
    finally:
        for h in hooks:
            h.remove()
    if normalize:
        scores = scores / scores.norm(dim=1, keepdim=True).clamp_min(1e-20)
    return scores.cpu()


def pruning_order(importance: torch.Tensor, seed: int | None = None) -> list[tuple[int, int]]:
    """(layer, head) from least to most important, never the last head of a layer; `seed`: random order."""
    layers, heads = importance.shape
    cells = [(l, h) for l in range(layers) for h in range(heads)]
    if seed is None:
        cells.sort(key=lambda c: float(importance[c]))
    else:
        random.Random(seed).shuffle(cells)
    left = [heads] * layers
    order = []
    for l, h in cells:
        if left[l] > 1:
            order.append((l, h))
            left[l] -= 1
    return order


def as_plan(cells: list[tuple[int, int]]) -> dict[int, list[int]]:
    plan: dict[int, list[int]] = {}
    for l, h in cells:
        plan.setdefault(l, []).append(h)
    return plan


def pruned_copy(model, cells: list[tuple[int, int]]):
    """A copy of `model` without the given heads."""
    work = copy.deepcopy(model).eval()
    prune_heads(work, as_plan(cells))
    return work


def magnitude_prune(model, sparsity: float):
    """A copy whose encoder linear weights have the `sparsity` share with the smallest |w| set to 0."""
    import torch.nn.utils.prune as tprune

    if not 0 <= sparsity < 1:
        raise UserError("Sparsity must be at least 0 and below 1 (e.g. 0.5 zeroes half the weights).")
    work = copy.deepcopy(model).eval()
    targets = [(m, "weight") for m in work.base_model.modules() if isinstance(m, torch.nn.Linear)]
    if sparsity > 0:
        tprune.global_unstructured(targets, pruning_method=tprune.L1Unstructured, amount=sparsity)
        for module, name in targets:
            tprune.remove(module, name)  # make the zeros permanent plain weights
    return work


def encoder_sparsity(model) -> float:
    """Share of zeros among the encoder's linear weights."""
    weights = [m.weight for m in model.base_model.modules() if isinstance(m, torch.nn.Linear)]
    return float(sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights))


def _point(base, variant, tokenizer, test: LabelledTexts, max_length: int, latency_texts: list[str]) -> dict:
    """Accuracy and size of `variant`, and its latency measured interleaved with `base`."""
    result = score(variant, tokenizer, test, max_length)
    ms = latencies_ms({"base": base, "variant": variant}, tokenizer, latency_texts, max_length, rounds=2)
    return {"accuracy": round(result.accuracy, 4), "f1": round(result.f1, 4), **size_of(variant),
            "latency_ms": ms["variant"], "speedup": round(ms["base"] / ms["variant"], 3)}


def head_curve(model, tokenizer, importance: torch.Tensor, test: LabelledTexts, counts: list[int],
               max_length: int = 64, random_seed: int | None = None, latency_texts: int = 30,
               reporter=None) -> list[dict]:
    """Accuracy, size and speed after removing the N least important heads, for each N in `counts`.

    With `random_seed` the heads go in a random order instead: the control that shows whether the
    importance score knows anything.
    """
    reporter = reporter or SilentReporter()
    order = pruning_order(importance, random_seed)
    if max(counts) > len(order):
        raise UserError(f"At most {len(order)} heads can go (one must stay in each layer).")
    total = importance.numel()
    rows = []
    for i, n in enumerate(counts):
        reporter.check_cancelled()
        variant = pruned_copy(model, order[:n])
        row = {"heads_removed": n, "heads_left": total - n, "order": "random" if random_seed is not None else "importance",
               **_point(model, variant, tokenizer, test, max_length, test.texts[:latency_texts])}
        rows.append(row)
        reporter.report((i + 1) / len(counts), f"{n} heads removed: accuracy {row['accuracy']:.1%}",
                        type="heads", **row)
    return rows


def sparsity_curve(model, tokenizer, test: LabelledTexts, sparsities: list[float], max_length: int = 64,
                   latency_texts: int = 30, reporter=None) -> list[dict]:
    """Accuracy, non-zero parameters and speed after magnitude pruning at each sparsity."""
    reporter = reporter or SilentReporter()
    rows = []
    for i, s in enumerate(sparsities):
        reporter.check_cancelled()
        variant = magnitude_prune(model, s)
        row = {"sparsity": s, "measured_sparsity": round(encoder_sparsity(variant), 4),
               **_point(model, variant, tokenizer, test, max_length, test.texts[:latency_texts])}
        rows.append(row)
        reporter.report((i + 1) / len(sparsities), f"sparsity {s:.0%}: accuracy {row['accuracy']:.1%}",
                        type="sparsity", **row)
    return rows


def default_counts(importance: torch.Tensor, points: int = 6) -> list[int]:
    """Evenly spaced head counts from 0 to the most that can go."""
    most = len(pruning_order(importance))
    return sorted({round(i * most / (points - 1)) for i in range(points)})


def sweep(model, tokenizer, scoring: LabelledTexts | None, test: LabelledTexts, counts: list[int] | int | None = None,
          sparsities: list[float] = (), control_seed: int | None = None, max_length: int = 64,
          reporter=None) -> dict:
    """The whole pruning study the lab page and `python -m core prune` show, on one progress bar.

    With `scoring`: head importance on it, then the head curve at `counts` (a list, or a number
    of points chosen by `default_counts`) and, with `control_seed`, the random-order control.
    With `sparsities`: the magnitude-pruning curve. Returns {"importance", "heads",
    "heads_random", "sparsity"} (the parts that ran).
    """
    reporter = reporter or SilentReporter()
    parts = (1 if scoring is not None else 0) + (1 if sparsities else 0)
    if parts == 0:
        raise UserError("Say what to prune: heads, weights (sparsity), or both.")
    share, out = 1 / parts, {}
    if scoring is not None:
        reporter.report(0.0, f"Scoring heads on {len(scoring)} texts…")
        importance = head_importance(model, tokenizer, scoring, max_length, reporter=SubProgress(reporter, 0, 0.1 * share))
        out["importance"] = [[round(float(v), 4) for v in row] for row in importance]
        counts = counts if isinstance(counts, list) else default_counts(importance, counts or 6)
        end = 0.55 if control_seed is not None else 1.0
        out["heads"] = head_curve(model, tokenizer, importance, test, counts, max_length,
                                  reporter=SubProgress(reporter, 0.1 * share, end * share))
        if control_seed is not None:
            out["heads_random"] = head_curve(model, tokenizer, importance, test, counts, max_length,
                                             random_seed=control_seed, reporter=SubProgress(reporter, end * share, share))
    if sparsities:
        out["sparsity"] = sparsity_curve(model, tokenizer, test, sorted(sparsities), max_length,
                                         reporter=SubProgress(reporter, 1 - share, 1))
    return out
