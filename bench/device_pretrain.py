"""The embedded model's pretraining, continued on a lent GPU for a fixed wall-clock budget.

    # here, once (needs the training text: MODEL_CARD.md lists the Debian packages and the Factbook)
    python bench/device_pretrain.py pack --source "$SOURCES" --out build/device-pack
    # on the device machine (the pack travels with `carry: ["build/device-pack"]`)
    python bench/device_pretrain.py train --pack build/device-pack --out $OUT --minutes 8

`train` resumes the shipped adapter (LoRA factors and heads) on the pack's encoder, in bf16 on
CUDA, with DataLoader workers pairing and masking so the GPU never waits for Python. Every
`--checkpoint-every-s` seconds it writes `last.safetensors` (so a killed run still leaves
something under --out), after each held-out evaluation `best.safetensors` (lowest MLM + NSP
loss), and at the end `summary.json` (steps, minutes, steps/s, tokens/s, the held-out curve).
Evaluate a result with `python bench/eval_embedded.py --adapter OUT/best.safetensors`.
On a CPU it is a dry run: `--minutes 2 --batch-size 8 --workers 1`.
"""
from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.models.embedded import ADAPTER  # noqa: E402
from core.training import device_pack  # noqa: E402
from core.training import pretraining as P  # noqa: E402
from core.training.config import PretrainConfig  # noqa: E402
from core.training.pretrain_data import PretrainingCollator, make_pair_examples  # noqa: E402


class PairBatches(torch.utils.data.IterableDataset):
    """Endless collated batches: each worker re-pairs the documents every epoch with its own seed."""

    def __init__(self, docs, groups, tokenizer, cfg: PretrainConfig):
        self.docs, self.groups, self.tokenizer, self.cfg = docs, groups, tokenizer, cfg

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker = info.id if info else 0
        rng = random.Random(self.cfg.seed * 1000 + worker)
        collator = PretrainingCollator(self.tokenizer, mlm_probability=self.cfg.mlm_probability)
        size = self.cfg.batch_size
        while True:
            examples = make_pair_examples(self.docs, self.tokenizer, self.cfg.max_length, self.cfg.short_seq_prob,
                                          rng, self.groups)
            for i in range(0, len(examples) - size + 1, size):
                yield collator(examples[i:i + size])


class Counted:
    """Passes batches on and counts their real tokens (for tokens/s)."""

    def __init__(self, batches):
        self.batches, self.tokens = iter(batches), 0

    def __next__(self):
        batch = next(self.batches)
        self.tokens += int(batch["attention_mask"].sum())
        return batch


def train(args) -> dict:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True
    tokenizer, model = device_pack.load_pack(args.pack)
    docs, held, groups = device_pack.unpack_corpus(Path(args.pack) / device_pack.CORPUS)
    from safetensors import safe_open

    with safe_open(str(args.resume), "pt") as f:
        meta = f.metadata()
    cfg = PretrainConfig(mode="lora", steps=10**9, batch_size=args.batch_size, max_length=args.max_length,
                         short_seq_prob=args.short_seq_prob, minutes=args.minutes, lr=args.lr, warmup=args.warmup,
                         dropout=0.0, bf16=device.type == "cuda" or args.bf16, lora_rank=int(meta["lora_rank"]),
                         lora_alpha=int(meta["lora_alpha"]), seed=args.seed)
    model = P.prepare_model(model, cfg)
    start_step = P.load_trainable(model, args.resume)
    model.to(device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    loader = torch.utils.data.DataLoader(PairBatches(docs, groups, tokenizer, cfg), batch_size=None,
                                         num_workers=args.workers, pin_memory=device.type == "cuda",
                                         prefetch_factor=4 if args.workers else None,
                                         persistent_workers=args.workers > 0)
    batches = Counted(loader)
    cancel = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: cancel.set())  # a timeout's TERM: stop and save
    started = time.monotonic()
    last_save = [started]
    curve, best = [], {"loss": float("inf"), "step": start_step}
    print(f"{device} {torch.cuda.get_device_name() if device.type == 'cuda' else ''}: {len(docs):,} training "
          f"documents, {len(held):,} held out; resuming step {start_step}; batch {cfg.batch_size} x "
          f"{cfg.max_length} tokens, {args.workers} workers", flush=True)

    def on_step(stats):
        now = time.monotonic()
        if stats.step % args.log_every == 0:
            elapsed = now - started
            print(f"{P.log_line(stats, time.time() - elapsed)}  {(stats.step - start_step) / elapsed:.2f} steps/s  "
                  f"{batches.tokens / elapsed:,.0f} tokens/s", flush=True)
        if now - last_save[0] >= args.checkpoint_every_s:
            P.save_checkpoint(model, out / "last.safetensors", cfg, stats.step, dtype=torch.float16)
            last_save[0] = now

    def on_eval(step, result):
        curve.append({"step": step, **{k: round(v, 4) for k, v in result.items()}})
        print(f"held-out @ {step}: {json.dumps(curve[-1])}", flush=True)
        if result["mlm_loss"] + result["nsp_loss"] < best["loss"]:
            best.update(loss=result["mlm_loss"] + result["nsp_loss"], step=step)
            P.save_checkpoint(model, out / "best.safetensors", cfg, step, dtype=torch.float16, extra=result)

    history = P.train(model, tokenizer, docs, cfg, on_step=on_step, cancel=cancel, eval_docs=held,
                      eval_every=args.eval_every, on_eval=on_eval, start_step=start_step, groups=groups,
                      batches=batches)
    elapsed = time.monotonic() - started
    steps = len(history)
    P.save_checkpoint(model, out / "last.safetensors", cfg, start_step + steps, dtype=torch.float16)
    summary = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "steps": steps,
               "from_step": start_step, "to_step": start_step + steps, "minutes": round(elapsed / 60, 2),
               "steps_per_s": round(steps / elapsed, 3), "tokens_per_s": round(batches.tokens / elapsed),
               "batch_size": cfg.batch_size, "max_length": cfg.max_length, "lr": cfg.lr,
               "best_step": best["step"], "held_out": curve}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "held_out"}), flush=True)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="pack the encoder and the tokenised corpus (<= 64 MiB with the code)")
    p.add_argument("--source", required=True, help="core.inputs.corpus syntax, e.g. wordnet+json:DIR*4")
    p.add_argument("--out", type=Path, default=Path("build/device-pack"))
    t = sub.add_parser("train", help="continue the pretraining on this machine's GPU (or a CPU dry run)")
    t.add_argument("--pack", type=Path, default=Path("build/device-pack"))
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--resume", type=Path, default=ADAPTER, help="adapter or checkpoint to continue")
    t.add_argument("--minutes", type=float, default=8.0)
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--max-length", type=int, default=128)
    t.add_argument("--short-seq-prob", type=float, default=0.3)
    t.add_argument("--lr", type=float, default=3e-4)
    t.add_argument("--warmup", type=float, default=0.06)
    t.add_argument("--workers", type=int, default=8)
    t.add_argument("--eval-every", type=int, default=200)
    t.add_argument("--log-every", type=int, default=50)
    t.add_argument("--checkpoint-every-s", type=float, default=60.0)
    t.add_argument("--bf16", action="store_true", help="bf16 autocast on a CPU too (always on CUDA)")
    t.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.command == "pack":
        found = device_pack.pack(args.out, args.source)
        print(json.dumps(found))
        if found["bytes"] > device_pack.LIMIT:
            raise SystemExit(f"the pack is {found['bytes'] / 2**20:.1f} MiB: over the device's 64 MiB")
    else:
        train(args)


if __name__ == "__main__":
    main()
