"""The Layers page's speed and findings on a model (default: the embedded one).

    python bench/bench_layers.py [--model M] [--tokens 400] [--words 3000] [--repeats 3]

Speed: every layer's vectors for ~400 tokens (our batched table vs transformers' BertModel one
sentence at a time), the projector (PCA + Procrustes; UMAP warm and cold), POS + control probes
on 3,000 words, the neighbour index (build, size vs float32, a query vs exact float32 search and
how many of the top 10 agree) and a query-key map. Findings: sense similarity by layer, probe
accuracy by layer with the majority baseline and selectivity, sentiment from [CLS].
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_fill_mask import best_of  # noqa: E402  (bench/ is on the path when a bench runs)


def sentences_with(loaded, n_tokens: int) -> list[str]:
    from core.inputs.datasets import builtin_sentiment

    out, total = [], 0
    for text in builtin_sentiment("train").texts:
        if total >= n_tokens:
            break
        out.append(text)
        total += len(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])
    return out


def states_speed(loaded, sentences, repeats: int):
    import torch

    from core.layers.states import token_table

    def one_by_one():
        with torch.inference_mode():
            for text in sentences:
                loaded.encoder(**loaded.tokenizer(text, return_tensors="pt"), output_hidden_states=True)

    token_table(loaded, sentences)
    ours = best_of(repeats, lambda: token_table(loaded, sentences))
    reference = best_of(repeats, one_by_one)
    print(f"layer vectors, {len(sentences)} sentences: ours (batched) {ours:.3f} s, BertModel one sentence at a "
          f"time {reference:.3f} s, ratio {ours / reference:.2f}")
    return token_table(loaded, sentences)


def projector_speed(table, repeats: int) -> None:
    from core.layers.projector import project

    n = len(table.tokens)
    pca = best_of(repeats, lambda: project(table, "pca", 2))
    start = time.perf_counter()
    project(table, "umap", 2)
    cold = time.perf_counter() - start
    warm = best_of(1, lambda: project(table, "umap", 2))
    print(f"projector, {n} tokens x {table.n_layers} layers: PCA + Procrustes {pca:.3f} s (goal < 2 s); "
          f"UMAP warm {warm:.1f} s (goal < 20 s), first call {cold:.1f} s (numba compiles)")


def probes(loaded, words: int) -> None:
    from core.layers.probes import run_probes, selectivity

    start = time.perf_counter()
    results = run_probes(loaded, ("pos", "control"), words)
    took = time.perf_counter() - start
    start = time.perf_counter()
    results |= run_probes(loaded, ("sentiment",))
    sentiment_s = time.perf_counter() - start
    print(f"POS + control probes, {words} words, every layer: {took:.1f} s (goal < 30 s); sentiment {sentiment_s:.1f} s")
    print("| layer | " + " | ".join(str(layer) for layer in results["pos"].layers) + " |")
    print("|---" * (len(results["pos"].layers) + 1) + "|")
    for task, result in results.items():
        print(f"| {task} (majority {result.majority:.3f}) | " + " | ".join(f"{a:.3f}" for a in result.accuracy) + " |")
    print("| selectivity | " + " | ".join(f"{s:+.3f}" for s in selectivity(results)) + " |")
    print(f"({results['pos'].n_train} train / {results['pos'].n_test} test words, {results['pos'].classes} tags; "
          f"sentiment {results['sentiment'].n_train} / {results['sentiment'].n_test} reviews)")


def neighbours(loaded, repeats: int) -> None:
    import numpy as np

    from core.layers.neighbours import build_index, nearest
    from core.layers.states import token_table

    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        index = build_index(loaded, Path(root))
        built = time.perf_counter() - start
        size = sum(f.stat().st_size for f in index.folder.iterdir())
        vectors = [np.asarray(index.layer(layer), dtype=np.float32) / 127 for layer in range(index.n_layers)]
        float32 = sum(v.nbytes for v in vectors)
        query = token_table(loaded, ["We sat on the bank of the river."])
        token = query.tokens.index("bank")
        last = index.n_layers - 1
        ours = best_of(repeats * 5, lambda: nearest(index, query, token, last, 10))
        exact = vectors[last] / np.linalg.norm(vectors[last], axis=1, keepdims=True)  # the float32 reference

        def reference():
            unit = query.states[last, token] / np.linalg.norm(query.states[last, token])
            return np.argsort(-(exact @ unit))[:10]

        ref_s = best_of(repeats * 5, reference)
        agree = len(set(reference().tolist()) & {n.row for n in nearest(index, query, token, last, 10).neighbours})
        print(f"neighbour index: {len(index.tokens):,} tokens of {len(index.sentences):,} sentences built in {built:.1f} s "
              f"(goal < 60 s), {size / 2**20:.0f} MB on disk (float32 would be {float32 / 2**20:.0f} MB); "
              f"a query {ours * 1000:.1f} ms (goal < 100 ms) vs full float32 sort {ref_s * 1000:.1f} ms "
              f"(ratio {ours / ref_s:.2f}), top-10 agreement {agree}/10")


def senses_and_query_keys(loaded, repeats: int) -> None:
    from core.layers.query_key import query_key_map
    from core.layers.senses import sense_sentences, sense_similarity
    from core.layers.states import token_table

    similarity = sense_similarity(token_table(loaded, sense_sentences()))
    for i, word in enumerate(similarity.words):
        print(f"| {word} ({' / '.join(similarity.senses[word])}) | "
              + " | ".join(f"{a:.2f} / {w:.2f}" for a, w in zip(similarity.across[i], similarity.within[i])) + " |")
    took = best_of(repeats, lambda: query_key_map(loaded, sense_sentences(), 2, 0))
    qk = query_key_map(loaded, sense_sentences(), 2, 0)
    print(f"query-key map, {len(qk.tokens)} tokens: {took:.3f} s; attention reproduced to {qk.attention_error:.1e}, "
          f"transform changed weights by <= {qk.transform_error:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--words", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from core.models.loading import get_model

    loaded = get_model(args.model)
    table = states_speed(loaded, sentences_with(loaded, args.tokens), args.repeats)
    projector_speed(table, args.repeats)
    probes(loaded, args.words)
    neighbours(loaded, args.repeats)
    senses_and_query_keys(loaded, args.repeats)


if __name__ == "__main__":
    main()
