"""Memory a long-running server gives back: glibc's allocator told to return what a job freed.

A server that runs jobs on threads keeps, by default, one malloc arena per thread (up to 8 per
core) and the peak of each: freed arrays stay in the process and the host counts them. Two
settings and a trim after each job return them (measured by `bench/bench_memory.py`):
- few arenas (`M_ARENA_MAX`): threads share two heaps instead of growing one each;
- a fixed mmap threshold (`M_MMAP_THRESHOLD`, 32 MB): the largest arrays get pages of their own,
  which go back to the system the moment they are freed. Lower would keep more of a job's peak
  off the heap (1 MB: the neighbour index's build peaked 225 MB lower) but every tensor over it
  then costs fresh page faults: a MiniLM training step took 584 ms instead of 418 at 1 MB, 419 at 32;
- `malloc_trim(0)` after a job: the heaps' free pages go back too.
On a system without glibc (macOS, Windows, musl) every call here does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import lru_cache

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
ARENAS = 2
MMAP_BYTES = 32 * 2**20
TRIM_BYTES = 8 * 2**20


@lru_cache(maxsize=1)
def _libc():
    """glibc, or None where malloc is another one."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - glibc has both; others lack one
    except (OSError, AttributeError):
        return None
    return libc


@lru_cache(maxsize=1)
def tune_allocator() -> bool:
    """Set the process's allocator to give memory back (once, however often called); False where it cannot."""
    libc = _libc()
    if libc is None:
        return False
    return all(libc.mallopt(option, value) == 1 for option, value in
               ((M_ARENA_MAX, ARENAS), (M_MMAP_THRESHOLD, MMAP_BYTES), (M_TRIM_THRESHOLD, TRIM_BYTES)))


def give_back() -> None:
    """After a job: collect Python's garbage and return the allocator's free pages to the system."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
