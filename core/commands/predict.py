"""`python -m core predict TEXT [--pair B] [--question Q] --model DIR [--json]`: use any fine-tune.

What comes out follows the model's head: a classifier gives the label and its probabilities
(TEXT and --pair B for a sentence pair), a token tagger the words with their tags and the
entities with their character offsets, a question answerer (TEXT is the paragraph, --question
Q) the answer with its offsets in the paragraph. `--file F.jsonl` predicts one line at a time
in one process, each line in the task's upload format ({"text"}, {"text_a", "text_b"},
{"tokens"} or {"context", "question"}), one JSON line out per line in.
"""
from __future__ import annotations

import json
from pathlib import Path

from core.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("predict", help="predict with a fine-tuned classifier, tagger or question answerer")
    p.add_argument("text", nargs="?", help="the text (the paragraph for question answering)")
    p.add_argument("--pair", help="the second sentence of a pair (sentence B)")
    p.add_argument("--question", help="the question, for a question-answering model")
    p.add_argument("--file", help="a JSONL file: one input a line in the task's upload format")
    p.add_argument("--model", required=True, help="a folder written by `finetune` (local:runs/NAME) or a hub id")
    p.add_argument("--json", action="store_true", help="print JSON (always, with --file)")
    p.set_defaults(func=run)


def as_text(result: dict) -> str:
    """A prediction for people: the label and its probabilities, tagged words, or the answer."""
    if "answer" in result:
        return f"{result['answer']}  (characters {result['start']}–{result['end']})" if result["answer"] else "(no answer)"
    if "words" in result:
        words = " ".join(w["word"] if w["tag"] == "O" else f"{w['word']}/{w['tag']}" for w in result["words"])
        return "\n".join([words] + [f"  {e['type']}: {e['text']} ({e['start']}–{e['end']})" for e in result["entities"]])
    return "\n".join([result["label"]] + [f"  {n}: {p:.3f}" for n, p in sorted(result["scores"].items(), key=lambda kv: -kv[1])])


def run(args) -> int:
    from core.inputs.jsonl import parse_jsonl, read_text
    from core.models.classifiers import HEADS, load_classifier, open_classifier
    from core.tasks.predict import predict_record

    if (args.text is None) == (args.file is None):
        raise UserError("Give either a TEXT or --file F.jsonl.")
    folder = Path(args.model.removeprefix("local:"))
    # A folder named on the command line is the user's own (like `classify`); anything else is a hub id.
    loaded = load_classifier(folder, tuple(HEADS)) if folder.is_dir() else open_classifier(args.model, tuple(HEADS))
    if args.text is not None:
        record = {"text": args.text, "text_b": args.pair, "context": args.text, "question": args.question or ""}
        result = predict_record(loaded, record)
        print(json.dumps(result) if args.json else as_text(result))
        return 0
    name = f"'{args.file}'"
    for number, record in parse_jsonl(read_text(args.file), name, {}):
        try:
            print(json.dumps(predict_record(loaded, record)), flush=True)
        except UserError as err:
            raise UserError(f"{name}, line {number}: {err}") from None
    return 0
