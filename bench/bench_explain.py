"""The explain page's speed and quality, on the embedded model fine-tuned on the built-in reviews.

    python bench/bench_explain.py [--model DIR] [--steps 50] [--n 140] [--repeats 3]

Speed: integrated gradients (50 steps) on a 40-word sentence, as a ratio to one forward pass and
to Captum run one interpolation step at a time (internal_batch_size=1, same attributions); a
counterfactual search on a 20-word sentence. Quality, over the built-in test split: each
explainer's comprehensiveness and sufficiency (random order as the floor) and the share of
reviews whose label flips with at most two substitutions. Without --model the script first
runs the page's quick fine-tune (the embedded model, 3 epochs) into a temporary folder.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_fill_mask import best_of  # noqa: E402  (bench/ is on the path when a bench runs)

SENTENCE_40 = ("The hotel looked nothing like the photos: the room was small, the carpet was stained and the "
               "air conditioning rattled all night, but the staff at the front desk were kind, the breakfast "
               "was fresh and the view of the harbour was simply wonderful.")
SENTENCE_20 = "The waiter was rude and the soup was cold, but the dessert was lovely and the coffee was strong."


def quick_classifier(folder: Path) -> str:
    from core.training.finetune import quick_finetune

    result = quick_finetune("embedded", folder)
    print(f"quick fine-tune: validation accuracy {result.best.accuracy:.1%} in {result.train_s:.0f} s")
    return str(folder)


def speed(classifier, suggester, steps: int, repeats: int) -> None:
    import torch
    from captum.attr import IntegratedGradients

    from core.explain.attributions import integrated_gradients, prepared
    from core.explain.counterfactual import counterfactuals
    from core.explain.targets import choose_target, embedding_forward

    words, _, ids, _, _ = prepared(classifier, SENTENCE_40)
    target = choose_target(classifier, SENTENCE_40)
    forward = embedding_forward(classifier, target, ids)
    embeds = classifier.model.get_input_embeddings()(ids).detach()

    def one_pass():
        with torch.no_grad():
            forward(embeds)

    def one_step_at_a_time():
        IntegratedGradients(forward).attribute(embeds, baselines=embeds * 0, n_steps=steps, internal_batch_size=1)

    integrated_gradients(classifier, target, ids, steps)  # warm-up
    ours = best_of(repeats, lambda: integrated_gradients(classifier, target, ids, steps))
    single = best_of(repeats, one_pass)
    stepwise = best_of(repeats, one_step_at_a_time)
    print(f"IG, {steps} steps, {len(words)} words ({ids.shape[1]} tokens): {ours:.3f} s warm · "
          f"{ours / single:.1f}x one forward pass ({single * 1000:.1f} ms) · "
          f"ratio to Captum one step at a time ({stepwise:.3f} s): {ours / stepwise:.2f}")
    cf = best_of(repeats, lambda: counterfactuals(classifier, suggester, SENTENCE_20, 2))
    found = counterfactuals(classifier, suggester, SENTENCE_20, 2)
    print(f"counterfactual search, {len(SENTENCE_20.split())} words, <= 2 edits: {cf:.2f} s warm, "
          f"{len(found.flips)} flips among {found.tried} edited sentences")


def quality(classifier, suggester, n: int, steps: int) -> None:
    from core.explain.counterfactual import counterfactuals
    from core.explain.faithfulness import dataset_faithfulness
    from core.inputs.datasets import builtin_sentiment

    texts = builtin_sentiment("test").sample(n).texts
    start = time.perf_counter()
    result = dataset_faithfulness(classifier, texts, steps=steps)
    print(f"faithfulness over {result.n} test reviews ({time.perf_counter() - start:.0f} s):")
    print(f"  {'method':<12}{'comprehensiveness':>20}{'sufficiency':>13}")
    for row in result.table():
        print(f"  {row['method']:<12}{row['comprehensiveness']:>14.3f} ±{row['± (s.e.)']:.3f}{row['sufficiency']:>13.3f}")
    start = time.perf_counter()
    flips = [bool(counterfactuals(classifier, suggester, t, 2).flips) for t in texts]
    print(f"counterfactual flip rate with <= 2 edits: {sum(flips)}/{len(flips)} = {sum(flips) / len(flips):.0%} "
          f"({(time.perf_counter() - start) / len(flips):.2f} s per review)")


def main() -> None:
    import torch

    from core.models.classifiers import load_classifier
    from core.models.loading import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a fine-tuned classifier folder (default: run the quick fine-tune)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--n", type=int, default=140, help="test reviews for the quality numbers")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__} · {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.model or quick_classifier(Path(tmp) / "quick")
        classifier, suggester = load_classifier(folder), load_model("embedded")
        speed(classifier, suggester, args.steps, args.repeats)
        quality(classifier, suggester, args.n, args.steps)


if __name__ == "__main__":
    main()
