"""BERT's architecture as a Graphviz diagram, labelled with a loaded model's real sizes."""
from __future__ import annotations


def _fmt(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n:,}"


def architecture_dot(summary: dict) -> str:
    """DOT source: inputs -> embeddings -> N encoder layers -> MLM/NSP heads.

    `summary` is `LoadedModel.summary()`; shapes use L for the sequence length.
    """
    h, layers, heads = summary["hidden"], summary["layers"], summary["heads"]
    ffn, vocab = summary["intermediate"], summary["vocab"]
    mlm = "MLM head\\nhidden → vocabulary\\n(L × %d logits)" % vocab
    nsp = "NSP head\\n[CLS] → 2 classes" if summary["nsp_head"] else "no NSP head"
    mlm_style = "solid" if summary["mlm_head"] else "dashed"
    nsp_style = "solid" if summary["nsp_head"] else "dashed"
    return f"""digraph bert {{
  rankdir=BT; node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];
  input [label="Text → WordPiece tokens\\n[CLS] a b … [SEP]  (L ≤ {summary['max_length']})", fillcolor="#fff7e0"];
  emb [label="Embeddings: token ({vocab:,}) + segment + position\\nLayerNorm → L × {h}"];
  enc [label="Encoder layer × {layers}\\nself-attention: {heads} heads × {h // heads} dims\\nfeed-forward {h} → {ffn} → {h}, GELU\\nresidual + LayerNorm after each", fillcolor="#dbe8fb"];
  out [label="Contextual vectors\\nL × {h}"];
  mlm [label="{mlm}", style="rounded,filled,{mlm_style}", fillcolor="#e6f6ea"];
  nsp [label="{nsp}", style="rounded,filled,{nsp_style}", fillcolor="#e6f6ea"];
  input -> emb -> enc -> out; out -> mlm; out -> nsp;
  label="{summary['model']} · {_fmt(summary['parameters'])} parameters"; labelloc=t;
}}"""
