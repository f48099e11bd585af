"""`python -m core probe --task pos|control|sentiment|all [--model M] [--n N] [--file FILE] [--json]`:
linear probes on the frozen vectors of every layer (the Layers page's probes).

JSON: {"task", "layers": [0..L], "accuracy": [...], "majority": p, "n_train", "n_test", "classes"}; with
`--task all`, {"task": "all", "results": {task: {...}}, "selectivity": [POS - control per layer]}.
`--file FILE` probes the words of your own sentences (one a line) for pos and control.
"""
from __future__ import annotations

import json


def register(sub) -> None:
    from core.layers.probes import DEFAULT_WORDS, TASKS

    p = sub.add_parser("probe", help="probe every layer for part of speech, a control task or sentiment")
    p.add_argument("--task", choices=(*TASKS, "all"), default="all")
    p.add_argument("--model", default="embedded", help="model choice: embedded, a hub id or local:<folder>")
    p.add_argument("--n", type=int, default=DEFAULT_WORDS, help="words of the built-in reviews to probe on")
    p.add_argument("--file", default=None, help="your own sentences, one a line (pos and control only)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.commands import read_lines
    from core.layers.probes import TASKS, WORD_TASKS, run_probes, selectivity
    from core.models.loading import get_model
    from core.progress import StderrReporter

    tasks = (WORD_TASKS if args.file else TASKS) if args.task == "all" else (args.task,)
    sentences = [s for s in read_lines(args.file) if s.strip()] if args.file else None
    results = run_probes(get_model(args.model), tasks, args.n, sentences, StderrReporter(not args.quiet))
    if args.task == "all":
        out = {"task": "all", "results": {t: r.to_json() for t, r in results.items()},
               "selectivity": selectivity(results)}
    else:
        out = results[args.task].to_json()
    if args.json:
        print(json.dumps(out))
        return 0
    for task, result in results.items():
        print(f"{task:>9}: " + " ".join(f"L{layer} {a:.3f}" for layer, a in zip(result.layers, result.accuracy))
              + f"  (majority {result.majority:.3f}, {result.n_train} train / {result.n_test} test)")
    if selectivity(results):
        print("selectivity: " + " ".join(f"L{layer} {s:+.3f}" for layer, s in enumerate(selectivity(results))))
    return 0
