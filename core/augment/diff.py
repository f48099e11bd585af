"""What augmentation changed: word-level diffs of a text and its variation, as segments or HTML."""
from __future__ import annotations

import difflib
import html
import re


_DIFF_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def diff(original: str, augmented: str) -> list[tuple[str, str]]:
    """(op, text) segments turning `original` into `augmented`: op is 'equal', 'delete' or 'insert'.

    Words are compared first; a changed word that still looks like the old one (a typo) is
    compared letter by letter, so only the letters that changed are marked.
    """
    a, b = _DIFF_TOKEN.findall(original), _DIFF_TOKEN.findall(augmented)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        old, new = "".join(a[i1:i2]), "".join(b[j1:j2])
        if op == "equal":
            out.append(("equal", old))
        elif op == "replace" and difflib.SequenceMatcher(None, old, new).ratio() >= 0.5:
            for cop, c1, c2, d1, d2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
                if cop == "equal":
                    out.append(("equal", old[c1:c2]))
                else:
                    out += [("delete", old[c1:c2])] if c2 > c1 else []
                    out += [("insert", new[d1:d2])] if d2 > d1 else []
        else:
            out += [("delete", old)] if old else []
            out += [("insert", new)] if new else []
    merged: list[tuple[str, str]] = []
    for op, text in out:  # "I " + "l" -> "I l": one segment per run
        if merged and merged[-1][0] == op:
            merged[-1] = (op, merged[-1][1] + text)
        else:
            merged.append((op, text))
    return merged


def diff_html(original: str, augmented: str) -> str:
    """The diff as HTML: removed text struck through in red, new text in green. User text is escaped."""
    style = {"delete": "<del style='background:#fdd;color:#a00'>{}</del>",
             "insert": "<ins style='background:#dfd;color:#060;text-decoration:none;font-weight:600'>{}</ins>",
             "equal": "{}"}
    return "".join(style[op].format(html.escape(text)) for op, text in diff(original, augmented))


def words_changed(original: str, augmented: str) -> int:
    """How many words (space-separated) were replaced, added or removed."""
    a, b = original.split(), augmented.split()
    return sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in
               difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op != "equal")


def change_summary(original: str, augmented: str) -> str:
    """'3 words changed · 14 -> 14 words': how much the technique really did."""
    if augmented == original:
        return "unchanged"
    changed = words_changed(original, augmented)
    return (f"{changed} word{'s' if changed != 1 else ''} changed · "
            f"{word_count(original)} -> {word_count(augmented)} words")


def word_count(text: str) -> int:
    return len(text.split())
