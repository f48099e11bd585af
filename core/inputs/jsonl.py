"""JSON Lines uploads (tagged sentences, questions): one object a line, each error named by its line."""
from __future__ import annotations

import json
from pathlib import Path

from core.errors import UserError
from core.inputs.csv_input import MAX_ROWS, decode_text, read_bytes


def read_text(data: bytes | str | Path) -> str:
    """An upload or a file as text, with the size, binary and encoding checks every upload gets."""
    return decode_text(read_bytes(data))


def parse_jsonl(text: str, name: str, required: dict[str, type], max_rows: int = MAX_ROWS) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line; each must be an object whose `required`
    keys hold values of the given types, else one UserError naming the line and what was expected."""
    rows = []
    expected = ", ".join(f'"{k}": {t.__name__}' for k, t in required.items())
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{name}, line {number}: not JSON ({err.msg}); expected one object a line "
                            f"with {expected}.") from None
        if not isinstance(row, dict) or any(not isinstance(row.get(k), t) for k, t in required.items()):
            raise UserError(f"{name}, line {number}: expected an object with {expected}.")
        rows.append((number, row))
        if len(rows) > max_rows:
            raise UserError(f"{name} has more than {max_rows:,} lines; keep the first {max_rows:,}.")
    if not rows:
        raise UserError(f"{name} has no lines.")
    return rows
