"""`python -m core ...`: the command line over the same code the pages use.

Contract: results go to stdout (JSON with `--json`); a problem the user can fix is one line on
stderr and exit code 2; an unexpected failure is one line on stderr and exit code 1.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from core import commands
from core.errors import UserError


class OneLineParser(argparse.ArgumentParser):
    """argparse prints a usage block on errors; the CLI contract is a single line."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of `command` alone when it is one (`fill-mask` lives in commands/fill_mask.py), else
    of every command (help, a typo). A command module's imports (scikit-learn, captum, nlpaug…) cost
    seconds and hundreds of MB that another command never uses, so only the one asked for is imported."""
    parser = OneLineParser(prog="python -m core", description="BERT Playground from the command line.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = sorted(info.name for info in pkgutil.iter_modules(commands.__path__))
    wanted = (command or "").replace("-", "_")
    for name in [wanted] if wanted in names else names:
        importlib.import_module(f"{commands.__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv and not argv[0].startswith("-") else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse already printed its one-line usage error
        return 2 if exit_.code not in (0, None) else 0
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the CLI promises one line, never a traceback
        print(f"error: unexpected {type(err).__name__}: {err}".splitlines()[0], file=sys.stderr)
        return 1
