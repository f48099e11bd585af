"""Turn a model choice into a loaded tokenizer + model, once per process.

A *choice* is a string: ``"embedded"`` (the offline default), a Hugging Face hub id such as
``"bert-base-uncased"``, or a local folder (``"local:runs/my-model"`` or a path under one of the
allowed model folders). Every model is loaded with its pretraining heads where it has them
(``AutoModelForPreTraining``: MLM + NSP for BERT, MLM for DistilBERT/RoBERTa, MLM + SOP for
ALBERT), so that attention, masked words and next-sentence pages share one copy.

Never ``trust_remote_code``: only architectures that ship inside transformers load.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.errors import UserError
from core.models.arch import max_length_of

EMBEDDED = "embedded"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
RUNS_DIR = Path(os.environ.get("BERT_PLAYGROUND_RUNS", PROJECT_ROOT / "runs"))

HUB_PRESETS = {
    "bert-base-uncased": "BERT base, uncased (Google, 110M parameters)",
    "bert-base-cased": "BERT base, cased (Google, 108M parameters)",
    "distilbert-base-uncased": "DistilBERT, 6 layers distilled from BERT base (66M)",
    "roberta-base": "RoBERTa base: byte-level BPE, no NSP (125M)",
    "albert-base-v2": "ALBERT base: shared layers, factorised embeddings (12M)",
    "bert-base-multilingual-cased": "Multilingual BERT, 104 languages (178M)",
    # The family's other sizes, to compare small / base / large on the same pages.
    "google/bert_uncased_L-4_H-256_A-4": "BERT-mini: 4 layers, hidden 256, 4 heads (Turc et al. 2019, 11M)",
    "distilroberta-base": "DistilRoBERTa: 6 layers distilled from RoBERTa base (82M)",
    "bert-large-uncased": "BERT large, uncased: 24 layers, hidden 1024, 16 heads (Google, 335M, ~1.3 GB)",
}
SUPPORTED_TYPES = ("bert", "distilbert", "roberta", "albert")
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,95})?$")
# Head weights that do not belong to the encoder; NSP-like ones are named here, the rest are MLM.
_NSP_KEYS = ("seq_relationship",)
_SOP_KEYS = ("sop_classifier",)


def allowed_model_dirs() -> list[Path]:
    """Folders a local model may come from: the project's runs/ plus BERT_PLAYGROUND_MODEL_DIRS."""
    extra = os.environ.get("BERT_PLAYGROUND_MODEL_DIRS", "")
    dirs = [RUNS_DIR] + [Path(p) for p in extra.split(os.pathsep) if p]
    return [d.resolve() for d in dirs]


def session_runs_dir(session_id: str) -> Path:
    """Where one app session saves what it trains: runs/sessions/<id>/.

    Only that session's sidebar lists it, so one student's fine-tunes never appear in another's
    session; models placed directly under runs/ (a teacher's, the CLI's) are listed for everyone.
    """
    if not re.fullmatch(r"[0-9a-f]{32}", session_id):
        raise ValueError("a session id is 32 hex digits")
    return RUNS_DIR / "sessions" / session_id


def pick_device() -> torch.device:
    """CUDA if present, then Apple's MPS, else CPU (override with BERT_PLAYGROUND_DEVICE)."""
    forced = os.environ.get("BERT_PLAYGROUND_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def is_offline() -> bool:
    """True when the hub must not be asked (HF_HUB_OFFLINE) or cannot be reached."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return True
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=1.5).close()
        return False
    except OSError:
        return True


@dataclass
class LoadedModel:
    """A tokenizer and a model in eval mode, plus what the model can do."""

    choice: str
    source: str  # "embedded" | "hub" | "local"
    tokenizer: object
    model: torch.nn.Module
    has_mlm: bool
    has_nsp: bool
    device: torch.device
    notes: list[str] = field(default_factory=list)

    @property
    def encoder(self) -> torch.nn.Module:
        """The bare encoder (BertModel, DistilBertModel, ...), without heads."""
        return self.model.base_model

    @property
    def config(self):
        return self.model.config

    @property
    def model_type(self) -> str:
        return self.config.model_type

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def size_mb(self) -> float:
        return sum(p.numel() * p.element_size() for p in self.model.parameters()) / 2**20

    @property
    def max_length(self) -> int:
        return max_length_of(self.config)

    @torch.no_grad()
    def fingerprint(self) -> str:
        """SHA-256 of every weight, recomputed on each call (~0.1 s for MiniLM): the same value
        before and after any page's work shows the shared model was never changed."""
        digest = hashlib.sha256()
        for name, tensor in self.model.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()

    def summary(self) -> dict:
        """Real sizes for diagrams and the sidebar."""
        cfg = self.config
        return {
            "model": self.choice,
            "type": self.model_type,
            "layers": getattr(cfg, "num_hidden_layers", getattr(cfg, "n_layers", None)),
            "hidden": getattr(cfg, "hidden_size", getattr(cfg, "dim", None)),
            "heads": getattr(cfg, "num_attention_heads", getattr(cfg, "n_heads", None)),
            "intermediate": getattr(cfg, "intermediate_size", getattr(cfg, "hidden_dim", None)),
            "vocab": cfg.vocab_size,
            "max_length": self.max_length,
            "parameters": self.n_params,
            "size_mb": round(self.size_mb, 1),
            "mlm_head": self.has_mlm,
            "nsp_head": self.has_nsp,
            "device": str(self.device),
        }


def resolve_local(choice: str) -> Path | None:
    """A local folder for `choice`, or None when it is not meant as one.

    Raises UserError for a path outside the allowed folders or a folder that holds no model.
    """
    raw = choice[len("local:"):] if choice.startswith("local:") else choice
    path = Path(raw)
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    # "org/name" is a hub id unless it is written as a path (local:, ./, /) or such a folder exists.
    if not (choice.startswith(("local:", ".", os.sep)) or (os.sep in raw and path.is_dir())):
        return None
    path = path.resolve()
    allowed = allowed_model_dirs()
    if not any(path == d or d in path.parents for d in allowed):
        shown = ", ".join(str(d) for d in allowed)
        raise UserError(f"'{raw}' is outside the model folders this app may read ({shown}).")
    if not (path / "config.json").is_file():
        raise UserError(f"'{raw}' is not a model folder: it has no config.json.")
    if not any((path / f).is_file() for f in ("model.safetensors", "model.safetensors.index.json")):
        raise UserError(f"'{raw}' has no model.safetensors: only safetensors weights are loaded.")
    return path


def _head_flags(model, missing_keys) -> tuple[bool, bool, list[str]]:
    """Which heads were really loaded, judged by the weights the checkpoint lacked."""
    prefix = model.base_model_prefix + "."
    head_missing = [k for k in missing_keys if not k.startswith(prefix) and "position_ids" not in k]
    nsp_missing = any(any(n in k for n in _NSP_KEYS + _SOP_KEYS) for k in head_missing)
    mlm_missing = any(not any(n in k for n in _NSP_KEYS + _SOP_KEYS) for k in head_missing)
    has_nsp_module = hasattr(getattr(model, "cls", None), "seq_relationship")
    notes = []
    if getattr(model, "sop_classifier", None) is not None:
        notes.append("ALBERT was pretrained on sentence order (SOP), not next-sentence prediction.")
    return not mlm_missing, has_nsp_module and not nsp_missing, notes


@dataclass(frozen=True)
class Source:
    """Where the weights behind a model choice are, and whether the hub may be asked for them."""

    choice: str
    kind: str  # "embedded" | "local" | "hub"
    location: str  # a folder, or a hub id
    local_only: bool

    def hub_kwargs(self) -> dict:
        return {"local_files_only": self.local_only, "trust_remote_code": False}


def resolve(choice: str) -> Source:
    """The one reading of a model choice, for the shared loader and the classifier loader alike.

    For "embedded" the location is the pip package's encoder (the loader adds the trained heads).
    """
    choice = (choice or "").strip()
    if not choice:
        raise UserError("Choose a model: 'embedded' works offline.")
    if choice == EMBEDDED:
        from core.models.embedded import encoder_path

        return Source(choice, "embedded", str(encoder_path()), True)
    if (local := resolve_local(choice)) is not None:
        return Source(choice, "local", str(local), True)
    if not HUB_ID.match(choice):
        raise UserError(f"'{choice}' is not a valid Hugging Face model id (like 'bert-base-uncased').")
    # Ask once: offline, a hub id then fails at once instead of after the hub client's retries.
    return Source(choice, "hub", choice, is_offline())


def require_supported(source: Source, config, who: str = "this app") -> None:
    if config.model_type not in SUPPORTED_TYPES:
        raise UserError(f"'{source.choice}' is a {config.model_type} model; {who} supports "
                        f"{', '.join(SUPPORTED_TYPES)}.")


def load_failed(source: Source, err: Exception) -> UserError:
    """What to tell the user when transformers could not load `source`."""
    if source.kind == "hub" and source.local_only:
        return UserError(f"No internet: the hub model '{source.choice}' can't be downloaded; "
                         "the embedded model works offline.")
    where = " from the hub" if source.kind == "hub" else ""
    return UserError(f"'{source.choice}' could not be loaded{where}: {str(err).splitlines()[0]}")


def estimated_bytes(config) -> int:
    """Bytes the model's float32 weights will take, counted on the meta device (nothing allocated)."""
    from accelerate import init_empty_weights
    from transformers import AutoModelForPreTraining

    with init_empty_weights():
        empty = AutoModelForPreTraining.from_config(config)
    empty.tie_weights()  # the MLM decoder is the word-embedding matrix: count it once
    return sum(p.numel() for p in empty.parameters()) * 4


def require_memory(source: Source, config) -> None:
    """Refuse, with the numbers, a model that would not fit in the memory this machine has free."""
    import psutil

    need, free = estimated_bytes(config), psutil.virtual_memory().available
    if need * 1.5 > free:  # the weights, plus the copy loading makes and room for the pages' work
        raise UserError(f"'{source.choice}' needs about {need * 1.5 / 2**30:.1f} GB to load ({need / 4e6:.0f}M "
                        f"parameters in float32); this machine has {free / 2**30:.1f} GB free. Pick a smaller model.")


def _load_pretrained(source: Source):
    from transformers import AutoConfig, AutoModelForPreTraining, AutoTokenizer

    config = AutoConfig.from_pretrained(source.location, **source.hub_kwargs())
    require_supported(source, config)
    require_memory(source, config)
    tokenizer = AutoTokenizer.from_pretrained(source.location, **source.hub_kwargs())
    model, info = AutoModelForPreTraining.from_pretrained(
        source.location,
        output_loading_info=True,
        attn_implementation="eager",  # so that attention probabilities can be returned
        use_safetensors=True,
        **source.hub_kwargs(),
    )
    return tokenizer, model, info["missing_keys"]


def quiet_transformers() -> None:
    """No load reports or download bars in the app's output."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_model(choice: str = EMBEDDED, device: torch.device | None = None) -> LoadedModel:
    """Load `choice` fresh (uncached). Raises UserError with a message fit for the user."""
    quiet_transformers()
    device = device or pick_device()
    source = resolve(choice)
    if source.kind == "embedded":
        from core.models.embedded import load_embedded

        tokenizer, model, missing = load_embedded()
    else:
        try:
            tokenizer, model, missing = _load_pretrained(source)
        except UserError:
            raise
        except (OSError, ValueError) as err:
            raise load_failed(source, err) from err
    has_mlm, has_nsp, notes = _head_flags(model, missing)
    if not has_mlm:
        notes.append("This model has no trained masked-word (MLM) head.")
    model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return LoadedModel(source.choice, source.kind, tokenizer, model, has_mlm, has_nsp, device, notes)


class _ModelCache:
    """A small thread-safe LRU of loaded models, so memory stays bounded with many choices."""

    def __init__(self, max_models: int):
        self.max_models = max_models
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, choice: str) -> LoadedModel:
        with self._lock:
            if choice in self._models:
                self._models.move_to_end(choice)
                return self._models[choice]
            loaded = load_model(choice)
            self._models[choice] = loaded
            while len(self._models) > self.max_models:
                self._models.popitem(last=False)
            return loaded


_cache = _ModelCache(int(os.environ.get("BERT_PLAYGROUND_MAX_MODELS", "3")))


def get_model(choice: str = EMBEDDED) -> LoadedModel:
    """The shared, cached model for `choice` (CLI and tests; pages use st.cache_resource)."""
    return _cache.get(choice)


def list_local_models(*own_dirs: Path) -> list[str]:
    """`local:` choices for the model folders directly under the allowed folders (shared ones)
    and under `own_dirs` (a session's own, see session_runs_dir)."""
    found = []
    for root in [*allowed_model_dirs(), *own_dirs]:
        if root.is_dir():
            for cfg in sorted(root.glob("*/config.json")):
                if (cfg.parent / "model.safetensors").is_file():
                    found.append(f"local:{cfg.parent}")
    return found


def environment_info() -> dict:
    """What `python -m core info` reports."""
    import platform

    import transformers

    from core.models.hub_cache import cached_models

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": str(pick_device()),
        "cuda": torch.cuda.is_available(),
        "offline": is_offline(),
        "models": [EMBEDDED, *HUB_PRESETS, *list_local_models()],
        "available_offline": cached_models(),  # hub models in the cache (`python -m core download`)
        "default_model": EMBEDDED,
    }
