"""CLI subcommands: one module each, discovered by `core.cli`.

A module here defines `register(subparsers)`, which adds its parser and sets `func=handler`.
The handler takes the parsed args and returns an exit code (0) after printing its result.
"""
