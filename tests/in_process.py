"""`python -m core ARGV` run inside the test process: its exit code, stdout and stderr, without the
seconds a new interpreter spends importing torch. (test_hostile_cli also runs real processes.)"""
from __future__ import annotations

import io
import time
from contextlib import redirect_stderr, redirect_stdout

from core.cli import main


def run(argv: list[str], limit_s: float = 60.0) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    assert time.perf_counter() - start < limit_s, f"{argv[0]} took too long"
    return code, out.getvalue(), err.getvalue()
