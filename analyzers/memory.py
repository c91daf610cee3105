"""Memory an analyzer's process gives back: freed arrays returned to the system, not kept by the allocator."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import platform
from collections.abc import Callable


@functools.cache
def _glibc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, found at first use: ``libc_ver`` reads the interpreter's binary."""
    if platform.libc_ver()[0] != "glibc":
        return None
    with contextlib.suppress(OSError, AttributeError):
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
        return trim
    return None


def release_freed_memory() -> None:
    """Give the pages freed with a namespace's samples back to the system.

    glibc keeps freed memory in each thread's arena (sizing runs in worker threads or processes), and a
    namespace's thousands of arrays leave it in holes that ``free`` alone never returns: the
    process's RSS then carries every namespace's leftovers. A no-op on other C libraries.
    """
    trim = _glibc_trim()
    if trim is not None:
        trim(0)
