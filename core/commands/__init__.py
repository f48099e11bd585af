"""CLI subcommands: one module each, discovered by `core.cli`.

A module here defines `register(subparsers)`, which adds its parser and sets `func=handler`.
The handler takes the parsed args and returns an exit code (0) after printing its result.
"""
from __future__ import annotations

import dataclasses
import json
import sys


def add_sentence_arguments(parser, text_help: str) -> None:
    """TEXT, --pair B, --model M and --json: what the commands that look at one sentence share."""
    parser.add_argument("text", help=text_help)
    parser.add_argument("--pair", default=None, help="an optional second sentence (sentence B)")
    parser.add_argument("--model", default="embedded", help="model choice: embedded, a hub id or local:<folder>")
    parser.add_argument("--json", action="store_true", help="print JSON")


def add_config_arguments(parser, config, helps: dict | None = None, flags: dict | None = None,
                         choices: dict | None = None) -> None:
    """One `--field-name` per field of the dataclass instance `config`, typed and defaulted from it,
    so a command never retypes a default (`flags` renames a field's flag)."""
    for field in dataclasses.fields(config):
        default = getattr(config, field.name)
        kwargs = {"dest": field.name, "default": default, "help": (helps or {}).get(field.name)}
        if isinstance(default, bool):
            kwargs["action"] = "store_false" if default else "store_true"
        else:
            kwargs["type"] = type(default) if default is not None else float
            if field.name in (choices or {}):
                kwargs["choices"] = choices[field.name]
        parser.add_argument((flags or {}).get(field.name, "--" + field.name.replace("_", "-")), **kwargs)


def config_from_args(cls, args):
    """The dataclass `cls` filled from the parsed arguments `add_config_arguments` added."""
    return cls(**{field.name: getattr(args, field.name) for field in dataclasses.fields(cls)})


def read_lines(path: str) -> list[str]:
    """The lines of a --file argument; a missing file is a UserError."""
    from core.errors import UserError

    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().splitlines()
    except OSError as err:
        raise UserError(f"Cannot read '{path}': {err.strerror}.") from err
    except UnicodeDecodeError as err:
        raise UserError(f"'{path}' is not UTF-8 text (byte {err.start} cannot be read).") from err


def add_text_or_file(parser, text_help: str) -> None:
    """TEXT or --file FILE (one text a line), and --json."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("text", nargs="?", help=text_help)
    source.add_argument("--file", help="one text per line; one JSON object per line out")
    parser.add_argument("--json", action="store_true", help="print JSON")


def each_text(args, work, show) -> int:
    """`work(text)` for TEXT or every line of --file in one process; `show(result)` prints one.

    With --file a line that fails prints {"error": ...} (JSON) or "line N: error: ..." and the
    exit code is 2; with TEXT the UserError propagates (one line, exit 2).
    """
    from core.errors import UserError

    if args.file is None:
        show(work(args.text))
        return 0
    lines = read_lines(args.file)
    failed = []
    for n, text in enumerate(lines, 1):
        try:
            show(work(text))
        except UserError as err:
            failed.append((n, str(err)))
            print(json.dumps({"error": str(err)}) if args.json else f"line {n}: error: {err}")
    if failed:
        print(f"error: {len(failed)} of {len(lines)} lines failed "
              f"(first: line {failed[0][0]}: {failed[0][1]})", file=sys.stderr)
        return 2
    return 0
