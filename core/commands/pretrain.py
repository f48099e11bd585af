"""`python -m core pretrain`: give the embedded encoder MLM + NSP heads, or pretrain a small BERT.

core/assets/embedded/adapter.safetensors is rebuilt from nothing by three resumed runs (commands and
timing: MODEL_CARD.md); the first is

    nice -n 10 python -m core pretrain --source wordnet --mode lora --lora-rank 64 --lora-alpha 128 \\
        --lr 8e-4 --max-length 64 --batch-size 32 --dropout 0 --bf16 --steps 100000 --minutes 40 \\
        --eval-every 50 --out core/assets/embedded

`--mode scratch` instead trains a fresh small BERT (same tokenizer) and saves a model folder
that loads as `local:FOLDER`.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, fields
from pathlib import Path

from core.errors import UserError


def register(sub) -> None:
    from core.training.config import MODES, PretrainConfig

    d = PretrainConfig()
    p = sub.add_parser("pretrain", help="train MLM + NSP heads (adapt the embedded encoder or pretrain from scratch)")
    p.add_argument("--source", default="wordnet",
                   help="text: wordnet | bbc | html:DIR | json:DIR | text:PATH, joined by +, *N repeats one (default wordnet)")
    p.add_argument("--mode", choices=MODES, default=d.mode, help="what trains (default lora)")
    p.add_argument("--steps", type=int, default=d.steps, help="maximum optimiser steps")
    p.add_argument("--minutes", type=float, default=d.minutes, help="wall-clock budget; the LR schedule ends there")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--max-length", type=int, default=d.max_length, help="tokens per packed sentence pair")
    p.add_argument("--short-seq-prob", type=float, default=d.short_seq_prob)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--lora-rank", type=int, default=d.lora_rank)
    p.add_argument("--lora-alpha", type=int, default=d.lora_alpha)
    p.add_argument("--unfreeze-layers", type=int, default=d.unfreeze_layers, help="mode partial: top blocks trained")
    p.add_argument("--whole-word-mask", action="store_true", help="mask all pieces of a word together")
    p.add_argument("--dropout", type=float, default=None, help="override dropout (0 for short adaptation)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast (faster on AVX512-BF16 CPUs)")
    p.add_argument("--hidden", type=int, default=128, help="mode scratch: hidden size")
    p.add_argument("--layers", type=int, default=2, help="mode scratch: encoder blocks")
    p.add_argument("--heads", type=int, default=2, help="mode scratch: attention heads")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--eval-every", type=int, default=50, help="steps between held-out evaluations")
    p.add_argument("--checkpoint-dir", type=Path, default=Path("/tmp/pretrain"),
                   help="last.safetensors / best.safetensors (by held-out loss) are kept here")
    p.add_argument("--resume", type=Path, help="continue from a checkpoint written by this command")
    p.add_argument("--out", type=Path, help="adapter folder (default core/assets/embedded) or, for scratch, a model folder")
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from core.inputs.corpus import load_sources
    from core.models.embedded import ASSET_DIR, load_embedded
    from core.models.loading import quiet_transformers
    from core.training import pretraining as P
    from core.training.config import PretrainConfig

    quiet_transformers()
    cfg = PretrainConfig(**{f.name: getattr(args, f.name) for f in fields(PretrainConfig) if hasattr(args, f.name)})
    if cfg.steps < 1 or cfg.batch_size < 1 or not 8 <= cfg.max_length <= 512:
        raise UserError("--steps and --batch-size must be positive and --max-length within 8..512.")
    torch.manual_seed(cfg.seed)
    sources = load_sources(args.source)
    tokenizer, model, _ = load_embedded(adapter=None)  # fresh heads, whatever is shipped
    if cfg.mode == "scratch":
        from transformers import BertForPreTraining

        model = BertForPreTraining(P.small_bert_config(len(tokenizer), args.hidden, args.layers, args.heads,
                                                       cfg.max_length))
    docs_ids, held_ids, groups = P.token_documents(sources, tokenizer, cfg.seed)
    print(f"{args.source}: {len(docs_ids)} training documents, {len(held_ids)} held out", flush=True)
    if cfg.mode != "scratch":
        P.init_heads(model, docs_ids)
    model = P.prepare_model(model, cfg)
    start_step = P.load_trainable(model, args.resume) if args.resume else 0
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"mode {cfg.mode}: {n_train:,} trainable parameters", flush=True)

    ckpt = args.checkpoint_dir
    best = {"loss": float("inf")}
    started = time.time()

    def on_step(stats):
        if stats.step % 10 == 0 or stats.step == 1:
            print(P.log_line(stats, started), flush=True)

    def on_eval(step, result):
        print(f"held-out @ {step}: {json.dumps({k: round(v, 4) for k, v in result.items()})}", flush=True)
        P.save_checkpoint(model, ckpt / "last.safetensors", cfg, step)
        if result["mlm_loss"] + result["nsp_loss"] < best["loss"]:
            best["loss"] = result["mlm_loss"] + result["nsp_loss"]
            P.save_checkpoint(model, ckpt / "best.safetensors", cfg, step, extra=result)

    P.train(model, tokenizer, docs_ids, cfg, on_step=on_step, eval_docs=held_ids,
            eval_every=args.eval_every, on_eval=on_eval, start_step=start_step, groups=groups)
    if cfg.mode == "scratch":
        from core.models.saved import save_folder

        out = save_folder(model, tokenizer, args.out or Path("runs") / "scratch-bert",
                          {"config": asdict(cfg), "source": args.source}, "pretraining.json", replace=True)
    else:
        out = args.out or ASSET_DIR
        best_step = P.load_trainable(model, ckpt / "best.safetensors")
        P.save_checkpoint(model, out / "adapter.safetensors", cfg, best_step, dtype=torch.float16,
                          extra={"source": args.source, "minutes": round((time.time() - started) / 60, 1)})
    print(f"saved {out} after {(time.time() - started) / 60:.1f} min", flush=True)
    return 0
