"""`python -m core nsp TEXT_A TEXT_B | --file PAIRS.jsonl [--model M] [--json]`.

Prints {"is_next": p}: the probability that B follows A. With --file, one {"a": ..., "b": ...}
per line in and one {"is_next": p} per line out, batched in one process; a bad line gets
{"error": ...} and the exit code is 2.
"""
from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("nsp", help="probability that sentence B follows sentence A")
    p.add_argument("text_a", nargs="?", help="sentence A")
    p.add_argument("text_b", nargs="?", help="sentence B")
    p.add_argument("--file", help="JSON lines of {\"a\": ..., \"b\": ...}")
    p.add_argument("--model", default="embedded", help="model choice (default: embedded)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _read_pairs(path: str) -> tuple[list[tuple[str, str] | None], dict[int, str]]:
    """Pairs in file order (None where a line is unusable) and the reason for each bad line."""
    from core.errors import UserError

    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as err:
        raise UserError(f"Cannot read '{path}': {err.strerror}.") from err
    pairs, errors = [], {}
    for i, line in enumerate(lines):
        try:
            row = json.loads(line)
            a, b = row["a"], row["b"]
            if not (isinstance(a, str) and isinstance(b, str) and a.strip() and b.strip()):
                raise ValueError
            pairs.append((a, b))
        except (ValueError, TypeError, KeyError):
            pairs.append(None)
            errors[i] = 'expected a JSON object {"a": "sentence A", "b": "sentence B"} with two non-empty texts'
    return pairs, errors


def run(args) -> int:
    from core.errors import UserError
    from core.models.loading import get_model
    from core.explain.nsp import next_sentence_probabilities, require_nsp

    if args.file is None and (args.text_a is None or args.text_b is None):
        raise UserError("Give two sentences (nsp TEXT_A TEXT_B) or --file PAIRS.jsonl.")
    if args.file is not None and args.text_a is not None:
        raise UserError("Give either two sentences or --file, not both.")
    loaded = get_model(args.model)
    require_nsp(loaded)
    if args.file is None:
        pairs, errors = [(args.text_a, args.text_b)], {}
    else:
        pairs, errors = _read_pairs(args.file)
    probs = iter(next_sentence_probabilities(loaded, [p for p in pairs if p is not None]))
    for i, pair in enumerate(pairs):
        if pair is None:
            print(json.dumps({"error": errors[i]}) if args.json else f"line {i + 1}: error: {errors[i]}")
            continue
        p = next(probs)
        print(json.dumps({"is_next": p}) if args.json else f"P(B follows A) = {p:.3f}")
    if errors:
        first = min(errors)
        print(f"error: {len(errors)} of {len(pairs)} lines could not be read (first: line {first + 1}: "
              f"{errors[first]})", file=sys.stderr)
        return 2
    return 0
