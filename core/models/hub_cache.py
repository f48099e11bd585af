"""Hub models kept for a classroom without internet: `download` fetches, while online, only the
files the app loads (safetensors weights, config, tokenizer) into the Hugging Face cache; offline,
a hub choice loads from that cache (`core.models.loading.resolve` asks for local files only), and
the sidebar marks the models found there "available offline".
"""
from __future__ import annotations

from pathlib import Path

from core.errors import UserError

# Everything a BERT-family model and its tokenizer need, and nothing else: no PyTorch pickles,
# TF / Flax / ONNX weights or README images.
WANTED = ["config.json", "*.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
          "special_tokens_map.json", "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt", "spiece.model",
          "sentencepiece.bpe.model"]


def download(model_id: str, cache_dir: str | Path | None = None) -> dict:
    """Fetch `model_id`'s wanted files into the cache: {"model", "files", "mb", "path"}."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    from core.models.loading import HUB_ID

    if not HUB_ID.match(model_id or ""):
        raise UserError(f"'{model_id}' is not a valid Hugging Face model id (like 'bert-base-uncased').")
    try:
        folder = Path(snapshot_download(model_id, allow_patterns=WANTED, cache_dir=cache_dir))
    except RepositoryNotFoundError:
        raise UserError(f"'{model_id}' is not on the hub (or is private).") from None
    except LocalEntryNotFoundError:
        raise UserError(f"No internet: '{model_id}' can't be downloaded now, and it is not in the cache.") from None
    except (HfHubHTTPError, OSError) as err:
        raise UserError(f"'{model_id}' could not be downloaded: {str(err).splitlines()[0]}") from None
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if not (folder / "config.json").is_file() or not any(p.suffix == ".safetensors" for p in files):
        raise UserError(f"'{model_id}' has no safetensors weights on the hub: this app loads only safetensors.")
    return {"model": model_id, "files": [p.name for p in files], "mb": round(sum(p.stat().st_size for p in files) / 2**20, 1),
            "path": str(folder)}


def cached_models(cache_dir: str | Path | None = None) -> list[str]:
    """Hub ids whose config and safetensors weights are in the cache: they load without internet."""
    from huggingface_hub import constants, scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:  # the cache the loaders read now (HF_HUB_CACHE), not the one seen at import
        info = scan_cache_dir(cache_dir or constants.HF_HUB_CACHE)
    except CacheNotFound:
        return []
    found = []
    for repo in info.repos:
        names = {f.file_name for revision in repo.revisions for f in revision.files} if repo.repo_type == "model" else set()
        if "config.json" in names and any(n.endswith(".safetensors") for n in names):
            found.append(repo.repo_id)
    return sorted(found)
