"""Contextual augmentation of 200 sentences: our batched augmenter on the selected model vs
nlpaug's ContextualWordEmbsAug (with the transformers-5 token2id fix) on the same weights,
called one sentence at a time as its users do. Same process, same threads, same share of words.

    python bench/bench_augment.py [--model embedded] [--sentences 200] [--strength 0.15]

Ratio = our sentences/s over nlpaug's; the goal is at least 5x. Also printed: ours with batch
size 1 (how much is batching) and nlpaug given the whole list at once (its own batch mode). If the
model's MLM head is not trained yet (the embedded model before its heads land) the head is random:
the timing is that of a trained head of the same size, and the script says so.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def save_as_masked_lm(loaded, folder: Path) -> None:
    """The LoadedModel's weights and tokenizer as a *ForMaskedLM folder, what nlpaug loads."""
    from transformers import AutoModelForMaskedLM

    mlm = AutoModelForMaskedLM.from_config(loaded.config)
    missing = mlm.load_state_dict(loaded.model.state_dict(), strict=False).missing_keys
    if missing:
        raise SystemExit(f"cannot copy the weights into {type(mlm).__name__}: missing {missing[:3]}")
    mlm.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)


def nlpaug_reference(folder: Path, model_type: str, strength: float):
    """nlpaug's ContextualWordEmbsAug, patched to use the tokenizer API transformers 5 still has."""
    import nlpaug.augmenter.word as naw
    import nlpaug.model.lang_models as nml

    for cls in (nml.Bert, nml.DistilBert, nml.Roberta):
        cls.token2id = lambda self, token: self.tokenizer.convert_tokens_to_ids(token)
        cls.id2token = lambda self, _id: self.tokenizer.convert_ids_to_tokens(_id)
    return naw.ContextualWordEmbsAug(model_path=str(folder), model_type=model_type, action="substitute",
                                     aug_p=strength, aug_max=None, top_k=10, device="cpu")


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--strength", type=float, default=0.15)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (best of)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from core.augment.contextual import contextual_augment
    from core.augment.dataset import builtin_dataset
    from core.models.loading import get_model

    loaded = get_model(args.model)
    if loaded.model_type not in ("bert", "distilbert", "roberta"):
        raise SystemExit(f"nlpaug supports bert, distilbert and roberta, not {loaded.model_type}.")
    texts = builtin_dataset()["text"].tolist()[: args.sentences]
    words = sum(len(t.split()) for t in texts)
    print(f"model {loaded.choice} ({loaded.model_type}, {loaded.n_params / 1e6:.1f}M parameters) on "
          f"{loaded.device}, {torch.get_num_threads()} threads; {len(texts)} sentences, {words} words, "
          f"{args.strength:.0%} of words replaced")
    if not loaded.has_mlm:
        print("note: this model's MLM head is untrained (random); timings are those of a trained head.")

    def ours_fn(batch_size: int):
        return contextual_augment(loaded, texts, "substitute", strength=args.strength, seed=0,
                                  batch_size=batch_size)

    ours_fn(32)  # warm-up
    with tempfile.TemporaryDirectory() as tmp:
        save_as_masked_lm(loaded, Path(tmp))
        aug = nlpaug_reference(Path(tmp), loaded.model_type, args.strength)
        aug.augment(texts[0])  # warm-up
        ours_s, ref_s = [], []
        for _ in range(args.rounds):  # interleaved, best of each: a shared CPU's load comes and goes
            seconds, ours = timed(lambda: ours_fn(32))
            ours_s.append(seconds)
            seconds, ref = timed(lambda: [aug.augment(t) for t in texts])
            ref_s.append(seconds)
        ours_s, ref_s = min(ours_s), min(ref_s)
        refb_s, _ = timed(lambda: aug.augment(texts))
    ours1_s, _ = timed(lambda: ours_fn(1))

    changed = sum(o[0] != t for o, t in zip(ours, texts))
    ref_changed = sum((r[0] if isinstance(r, list) else r) != t for r, t in zip(ref, texts))
    rate = lambda s: len(texts) / s  # noqa: E731
    print(f"best of {args.rounds} interleaved rounds:")
    print(f"ours, batched (32)          {rate(ours_s):8.1f} sentences/s  ({ours_s:.2f} s, {changed} changed)")
    print(f"nlpaug, one at a time (ref) {rate(ref_s):8.1f} sentences/s  ({ref_s:.2f} s, {ref_changed} changed)")
    print("single runs, for context:")
    print(f"ours, one at a time         {rate(ours1_s):8.1f} sentences/s  ({ours1_s:.2f} s)")
    print(f"nlpaug, whole list at once  {rate(refb_s):8.1f} sentences/s  ({refb_s:.2f} s)")
    print(f"ratio ours / nlpaug one at a time: {ref_s / ours_s:.1f}x (goal >= 5x); "
          f"vs nlpaug's list mode: {refb_s / ours_s:.1f}x")
    print("example:", texts[0], "->", ours[0][0])


if __name__ == "__main__":
    main()
