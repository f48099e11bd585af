"""Build the from-scratch BERT with the weights of a transformers BERT model."""
from __future__ import annotations

import torch
from torch import nn

from core.bert.config import BertConfig
from core.bert.model import Bert


def _pairs(mine: Bert, hf_model):
    """(from-scratch module, transformers module) pairs that hold the same weights."""
    base = hf_model.base_model
    e, he = mine.embeddings, base.embeddings
    yield from ((e.word, he.word_embeddings), (e.segment, he.token_type_embeddings),
                (e.position, he.position_embeddings), (e.norm, he.LayerNorm))
    for layer, hl in zip(mine.layers, base.encoder.layer):
        a, ha = layer.attention, hl.attention
        yield from ((a.out, ha.output.dense), (layer.norm1, ha.output.LayerNorm),
                    (layer.ffn_up, hl.intermediate.dense), (layer.ffn_down, hl.output.dense),
                    (layer.norm2, hl.output.LayerNorm))
    if mine.pooler is not None:
        yield mine.pooler, base.pooler.dense
    heads = getattr(hf_model, "cls", None)
    if mine.mlm is not None:
        p = heads.predictions
        yield from ((mine.mlm.dense, p.transform.dense), (mine.mlm.norm, p.transform.LayerNorm),
                    (mine.mlm.decoder, p.decoder))
    if mine.nsp is not None:
        yield mine.nsp, heads.seq_relationship


def from_transformers(hf_model, clone: bool = False) -> Bert:
    """A `Bert` in eval mode with the weights of a BertModel / BertForMaskedLM / BertForPreTraining.

    Heads are copied when the transformers model has them. By default the tensors share storage
    with `hf_model` (no second copy in memory) and must be treated as read-only, except the fused
    Q/K/V matrices which are new; `clone=True` gives the model its own tensors, e.g. to train it.
    `hf_model` itself is never changed.
    """
    heads = getattr(hf_model, "cls", None)
    cfg = BertConfig.from_transformers(
        hf_model.config,
        pooler=getattr(hf_model.base_model, "pooler", None) is not None,
        mlm_head=hasattr(heads, "predictions"),
        nsp_head=hasattr(heads, "seq_relationship"),
    )
    with torch.device("meta"):  # no random init: every tensor is replaced below
        mine = Bert(cfg)
    for ours, theirs in _pairs(mine, hf_model):
        for name, tensor in theirs.named_parameters(recurse=False):
            data = tensor.detach().clone() if clone else tensor.detach()
            setattr(ours, name, nn.Parameter(data, requires_grad=clone))
    for layer, hl in zip(mine.layers, hf_model.base_model.encoder.layer):
        qkv = (hl.attention.self.query, hl.attention.self.key, hl.attention.self.value)
        for name in ("weight", "bias"):  # fused [W_Q; W_K; W_V]: always a new tensor
            fused = torch.cat([getattr(m, name).detach() for m in qkv])
            setattr(layer.attention.qkv, name, nn.Parameter(fused, requires_grad=clone))
    if cfg.mlm_head and cfg.tie_word_embeddings:
        mine.mlm.decoder.weight = mine.embeddings.word.weight
    left = [n for n, p in mine.named_parameters() if p.is_meta]
    if left:
        raise ValueError(f"weights not copied: {left}")
    return mine.eval()
