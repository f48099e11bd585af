"""CLI subcommands: one module each, discovered by `core.cli`.

A module here defines `register(subparsers)`, which adds its parser and sets `func=handler`.
The handler takes the parsed args and returns an exit code (0) after printing its result.
"""
from __future__ import annotations

import dataclasses


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
