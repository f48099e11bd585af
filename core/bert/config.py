"""The handful of numbers that define a BERT, read from a transformers config."""
from __future__ import annotations

from dataclasses import dataclass

from core.errors import UserError

# transformers' activation name -> torch.nn.functional.gelu(approximate=...)
_GELU = {"gelu": "none", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu_fast": "tanh"}


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768          # H
    num_layers: int = 12            # L
    num_heads: int = 12             # h
    intermediate_size: int = 3072   # I = 4H
    max_positions: int = 512
    type_vocab_size: int = 2        # segments A / B
    layer_norm_eps: float = 1e-12
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    gelu_approximate: str = "none"  # "none": exact GELU(x) = x·Φ(x) with erf, as in BERT
    pooler: bool = True
    mlm_head: bool = True
    nsp_head: bool = True
    tie_word_embeddings: bool = True  # MLM decoder weight = word embedding matrix

    @property
    def head_dim(self) -> int:
        """d_k = H / h."""
        return self.hidden_size // self.num_heads

    @classmethod
    def from_transformers(cls, hf_config, *, pooler: bool, mlm_head: bool, nsp_head: bool) -> "BertConfig":
        """Read a transformers BertConfig; UserError for what this implementation does not cover."""
        kind = getattr(hf_config, "model_type", "?")
        if kind != "bert":
            raise UserError(f"The from-scratch BERT reads only BERT-type models; this one is a {kind} model.")
        if getattr(hf_config, "position_embedding_type", "absolute") != "absolute":
            raise UserError("The from-scratch BERT covers absolute position embeddings only.")
        if getattr(hf_config, "is_decoder", False) or getattr(hf_config, "add_cross_attention", False):
            raise UserError("The from-scratch BERT covers the encoder only, not BERT used as a decoder.")
        act = hf_config.hidden_act
        if act not in _GELU:
            raise UserError(f"The from-scratch BERT uses GELU; this model uses '{act}'.")
        if hf_config.hidden_size % hf_config.num_attention_heads:
            raise UserError("The hidden size must be a multiple of the number of heads.")
        return cls(
            vocab_size=hf_config.vocab_size,
            hidden_size=hf_config.hidden_size,
            num_layers=hf_config.num_hidden_layers,
            num_heads=hf_config.num_attention_heads,
            intermediate_size=hf_config.intermediate_size,
            max_positions=hf_config.max_position_embeddings,
            type_vocab_size=hf_config.type_vocab_size,
            layer_norm_eps=hf_config.layer_norm_eps,
            hidden_dropout=hf_config.hidden_dropout_prob,
            attention_dropout=hf_config.attention_probs_dropout_prob,
            gelu_approximate=_GELU[act],
            pooler=pooler,
            mlm_head=mlm_head,
            nsp_head=nsp_head,
            tie_word_embeddings=getattr(hf_config, "tie_word_embeddings", True),
        )
