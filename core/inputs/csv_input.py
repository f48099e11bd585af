"""Reading a user's CSV of texts (and labels) with a friendly message for every way it can be wrong.

Shared by the augmentation and fine-tuning pages and their CLIs, so an empty file, a binary
upload, a Latin-1 export, a missing column or a file that is too big reads the same everywhere.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from core.errors import UserError

MAX_ROWS = 20_000
MAX_BYTES = 50 * 2**20


def read_bytes(data: bytes | str | Path) -> bytes:
    """Bytes of an upload (bytes) or a file (path), refusing files over MAX_BYTES before reading."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        path = Path(data)
        if not path.is_file():
            raise UserError(f"There is no file at '{path}'.")
        if path.stat().st_size > MAX_BYTES:
            raise UserError(f"'{path.name}' is {path.stat().st_size / 2**20:.0f} MB; "
                            f"the limit is {MAX_BYTES // 2**20} MB.")
        raw = path.read_bytes()
    if len(raw) > MAX_BYTES:
        raise UserError(f"The file is {len(raw) / 2**20:.0f} MB; the limit is {MAX_BYTES // 2**20} MB.")
    return raw


def decode_text(raw: bytes) -> str:
    """UTF-8 text (a BOM from Excel is fine); binary files and other encodings get a clear no."""
    if not raw.strip():
        raise UserError("The file is empty: it needs a header row and at least one row of text.")
    if b"\x00" in raw[:8192]:
        raise UserError("This looks like a binary file (an Excel workbook, a zip?), not a CSV: "
                        "export it as 'CSV UTF-8' and upload that.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise UserError(f"The file is not UTF-8 text (byte 0x{raw[err.start]:02x} on line {line}): "
                        "save it as 'CSV UTF-8' and upload it again.") from None


def load_csv(data: bytes | str | Path, max_rows: int = MAX_ROWS) -> pd.DataFrame:
    """All columns of a CSV as strings, after the checks every CSV needs (before columns are chosen)."""
    text = decode_text(read_bytes(data))
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            skipinitialspace=True, on_bad_lines="error", nrows=max_rows + 1)
    except pd.errors.EmptyDataError:
        raise UserError("The file has no columns: it needs a header row such as 'text,label'.") from None
    except (pd.errors.ParserError, csv.Error) as err:
        raise UserError(f"This is not a well-formed CSV: {str(err).strip().splitlines()[0]}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise UserError("The file has a header but no rows.")
    if len(frame) > max_rows:
        raise UserError(f"The file has more than {max_rows:,} rows; keep the first {max_rows:,} "
                        "(or sample them) and upload that.")
    return frame


def read_text_csv(data: bytes | str | Path, text_column: str, label_column: str | None = None,
                  max_rows: int = MAX_ROWS) -> pd.DataFrame:
    """The CSV's rows with non-empty text (and a label, when a label column is named).

    Every column is kept (as strings, stripped in the text/label columns). Rows dropped for a
    missing text or label are counted in ``frame.attrs["dropped"]`` so the page can say so.
    Raises UserError for an empty, binary, non-UTF-8 or malformed file, a missing column, no
    usable rows, or more than `max_rows` rows.
    """
    frame = load_csv(data, max_rows=max_rows)
    wanted = [c for c in (text_column, label_column) if c]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        shown = ", ".join(repr(c) for c in frame.columns)
        raise UserError(f"The file has no column {missing[0]!r}; its columns are {shown}.")
    if label_column and label_column == text_column:
        raise UserError("The text and the label must be two different columns.")
    for column in wanted:
        frame[column] = frame[column].str.strip()
    keep = frame[text_column] != ""
    if label_column:
        keep &= frame[label_column] != ""
    dropped = int((~keep).sum())
    frame = frame[keep].reset_index(drop=True)
    if frame.empty:
        what = f"text in {text_column!r}" + (f" and a label in {label_column!r}" if label_column else "")
        raise UserError(f"No row has {what}.")
    frame.attrs["dropped"] = dropped
    return frame
