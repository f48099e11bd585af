"""BERT in plain PyTorch, written to be read next to the paper (Devlin et al., 2018).

Notation: B batch, T tokens, H hidden size, h heads, d_k = H / h, I feed-forward size, V vocab.
Every step is written once. Passing a `record` dict to a module makes it keep its intermediates,
which is how `Bert.trace` shows the steps without a second copy of the math.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.bert.config import BertConfig


def _keep(record: dict | None, **tensors) -> None:
    if record is not None:
        record.update(tensors)


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, T, H) -> (B, h, T, d_k)."""
    B, T, H = x.shape
    return x.view(B, T, num_heads, H // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, h, T, d_k) -> (B, T, h·d_k): the heads side by side ("concat")."""
    B, h, T, d_k = x.shape
    return x.transpose(1, 2).reshape(B, T, h * d_k)


def visibility(attention_mask: torch.Tensor | None, T: int, causal: bool, device) -> torch.Tensor | None:
    """visible[b, 0, i, j] = may query i look at key j?  (B|1, 1, T|1, T) bool; None = all visible.

    Padding mask: key j is a real token (attention_mask[b, j] = 1).
    Causal (look-ahead) mask: j <= i, as in a GPT decoder.
    """
    visible = None
    if attention_mask is not None and not bool(attention_mask.all()):
        visible = attention_mask[:, None, None, :].bool()                    # (B, 1, 1, T)
    if causal:
        past_and_self = torch.ones(T, T, dtype=torch.bool, device=device).tril()  # (T, T), j <= i
        visible = past_and_self[None, None] if visible is None else visible & past_and_self
    return visible


class Embeddings(nn.Module):
    """E = LayerNorm(W_tok[x_i] + W_seg[s_i] + W_pos[i])  -> (B, T, H)."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.word = nn.Embedding(cfg.vocab_size, cfg.hidden_size)         # (V, H)
        self.segment = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)  # (2, H)
        self.position = nn.Embedding(cfg.max_positions, cfg.hidden_size)   # (512, H) in BERT
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout)

    def forward(self, input_ids, token_type_ids, record=None):
        T = input_ids.shape[1]
        word = self.word(input_ids)                                            # (B, T, H)
        segment = self.segment(token_type_ids)                                 # (B, T, H)
        position = self.position(torch.arange(T, device=input_ids.device))[None]  # (1, T, H)
        summed = word + segment + position                                     # (B, T, H)
        out = self.dropout(self.norm(summed))                                  # (B, T, H)
        _keep(record, word=word, segment=segment, position=position.expand_as(word), sum=summed, out=out)
        return out


class SelfAttention(nn.Module):
    """MultiHead(X) = Concat(head_1..head_h) W_O,  head_i = softmax(Q_i K_iᵀ / √d_k + M) V_i."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.num_heads, self.head_dim = cfg.num_heads, cfg.head_dim
        self.qkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size)  # [W_Q | W_K | W_V] (H, 3H): one matmul
        self.out = nn.Linear(cfg.hidden_size, cfg.hidden_size)       # W_O (H, H)
        self.dropout_p = cfg.attention_dropout

    def forward(self, x, visible, step_by_step: bool, record=None):
        q, k, v = self.qkv(x).split(x.shape[-1], dim=-1)  # X W_Q + b_Q, X W_K + b_K, X W_V + b_V
        q = split_heads(q, self.num_heads)                 # Q (B, h, T, d_k)
        k = split_heads(k, self.num_heads)                 # K (B, h, T, d_k)
        v = split_heads(v, self.num_heads)                 # V (B, h, T, d_k)
        dropout_p = self.dropout_p if self.training else 0.0
        neg_inf = torch.finfo(q.dtype).min  # stands for −∞: a row with nothing visible gives no NaN
        if step_by_step:
            scores = q @ k.transpose(-2, -1) * self.head_dim ** -0.5   # S = Q Kᵀ / √d_k  (B, h, T, T)
            masked = scores if visible is None else scores.masked_fill(~visible, neg_inf)  # S + M
            probs = masked.softmax(dim=-1)                             # P, rows sum to 1  (B, h, T, T)
            context = F.dropout(probs, dropout_p, self.training) @ v   # Z = P V  (B, h, T, d_k)
        else:  # the same math in one fused kernel
            bias = None
            if visible is not None:  # M: 0 where visible, −∞ where hidden
                bias = torch.zeros(visible.shape, dtype=q.dtype, device=q.device)
                bias = bias.masked_fill(~visible, neg_inf)
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p)
            scores = masked = probs = None
        concat = merge_heads(context)  # (B, T, H)
        out = self.out(concat)         # Concat · W_O + b_O  (B, T, H)
        _keep(record, x=x, q=q, k=k, v=v, scores=scores, masked_scores=masked, probs=probs,
              context=context, concat=concat, attn_out=out)
        return out, probs


class EncoderLayer(nn.Module):
    """Post-LN transformer block:  A = LN(X + MHA(X)),  Y = LN(A + W₂ GELU(W₁ A + b₁) + b₂)."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.attention = SelfAttention(cfg)
        self.norm1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.ffn_up = nn.Linear(cfg.hidden_size, cfg.intermediate_size)    # W₁ (H -> I)
        self.ffn_down = nn.Linear(cfg.intermediate_size, cfg.hidden_size)  # W₂ (I -> H)
        self.norm2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout)
        self.gelu_approximate = cfg.gelu_approximate

    def forward(self, x, visible, step_by_step: bool, record=None):
        attn, probs = self.attention(x, visible, step_by_step, record)  # (B, T, H)
        residual1 = x + self.dropout(attn)                              # X + MHA(X)
        a = self.norm1(residual1)                                       # (B, T, H)
        ffn_pre = self.ffn_up(a)                                        # A W₁ + b₁  (B, T, I)
        ffn_act = F.gelu(ffn_pre, approximate=self.gelu_approximate)    # GELU(z) = z·Φ(z)
        ffn_out = self.ffn_down(ffn_act)                                # (B, T, H)
        residual2 = a + self.dropout(ffn_out)                           # A + FFN(A)
        y = self.norm2(residual2)                                       # (B, T, H)
        _keep(record, residual1=residual1, norm1=a, ffn_pre=ffn_pre, ffn_act=ffn_act,
              ffn_out=ffn_out, residual2=residual2, out=y)
        return y, probs


class MaskedLMHead(nn.Module):
    """logits = LN(GELU(h W_t + b_t)) W_tokᵀ + b  -> (B, T, V); W_tok is the word embedding matrix."""

    def __init__(self, cfg: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size)  # weight (V, H)
        if cfg.tie_word_embeddings:
            self.decoder.weight = word_embeddings.weight
        self.gelu_approximate = cfg.gelu_approximate

    def forward(self, hidden):
        t = self.norm(F.gelu(self.dense(hidden), approximate=self.gelu_approximate))  # (B, T, H)
        return self.decoder(t)                                                     # (B, T, V)


@dataclass
class Trace:
    """Every intermediate of one sentence (batch index 0 of the input), for one layer."""

    layer: int
    embeddings: dict[str, torch.Tensor]  # word, segment, position, sum, out: (T, H)
    steps: dict[str, torch.Tensor]       # x, q, k, v (h, T, d_k), scores … probs (h, T, T), … out (T, H)
    hidden_states: list[torch.Tensor]    # L + 1 tensors (T, H): embeddings, then each layer's output
    attentions: list[torch.Tensor]       # L tensors (h, T, T)
    visible: torch.Tensor                # (T, T) bool: which keys each query may see


class Bert(nn.Module):
    """Embeddings -> L encoder layers -> (pooler, MLM head, NSP head)."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.config = cfg
        self.embeddings = Embeddings(cfg)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.num_layers))
        self.pooler = nn.Linear(cfg.hidden_size, cfg.hidden_size) if cfg.pooler else None  # tanh(W h + b)
        self.mlm = MaskedLMHead(cfg, self.embeddings.word) if cfg.mlm_head else None
        self.nsp = nn.Linear(cfg.hidden_size, 2) if cfg.nsp_head and cfg.pooler else None  # IsNext, NotNext

    def _run(self, input_ids, attention_mask, token_type_ids, step_by_step, causal, records=None):
        """Embeddings then every layer -> ([E, X_1 … X_L], [P_1 … P_L] or Nones, visibility mask)."""
        records = records or {}
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)  # one segment
        visible = visibility(attention_mask, input_ids.shape[1], causal, input_ids.device)
        x = self.embeddings(input_ids, token_type_ids, records.get("embeddings"))
        hidden, attentions = [x], []
        for i, layer in enumerate(self.layers):
            x, probs = layer(x, visible, step_by_step, records.get(i))
            hidden.append(x)
            attentions.append(probs)
        return hidden, attentions, visible

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, output_attentions=False,
                causal=False):
        """(last_hidden_state (B, T, H), attentions: L × (B, h, T, T) or None).

        output_attentions=True computes attention step by step; False uses the fused SDPA kernel.
        causal=True adds GPT's look-ahead mask: token i sees only tokens 0..i.
        """
        hidden, attentions, _ = self._run(input_ids, attention_mask, token_type_ids,
                                          output_attentions, causal)
        return hidden[-1], (tuple(attentions) if output_attentions else None)

    def trace(self, input_ids, attention_mask=None, token_type_ids=None, layer=0, causal=False) -> Trace:
        """Run step by step and keep every intermediate of `layer` for the first sentence."""
        records = {"embeddings": {}, layer: {}}
        hidden, attentions, visible = self._run(input_ids, attention_mask, token_type_ids, True, causal,
                                                records)
        T = input_ids.shape[1]
        seen = torch.ones(T, T, dtype=torch.bool, device=input_ids.device)
        if visible is not None:
            seen = seen & visible[0, 0]
        first = {name: t[0] for name, t in records[layer].items() if t is not None}
        return Trace(
            layer=layer,
            embeddings={name: t[0] for name, t in records["embeddings"].items()},
            steps=first,
            hidden_states=[h[0] for h in hidden],
            attentions=[a[0] for a in attentions],
            visible=seen,
        )

    def pooled(self, hidden):
        """tanh(h_[CLS] W_p + b_p)  (B, H)."""
        if self.pooler is None:
            raise ValueError("This model has no pooler.")
        return torch.tanh(self.pooler(hidden[:, 0]))

    def mlm_logits(self, hidden):
        """Masked-word scores over the vocabulary  (B, T, V)."""
        if self.mlm is None:
            raise ValueError("This model has no masked-word (MLM) head.")
        return self.mlm(hidden)

    def nsp_logits(self, hidden):
        """[IsNext, NotNext] scores from the pooled [CLS]  (B, 2)."""
        if self.nsp is None:
            raise ValueError("This model has no next-sentence (NSP) head.")
        return self.nsp(self.pooled(hidden))
