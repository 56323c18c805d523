"""Hand the C heap's free memory back to the operating system once a knowledge base is built.

Loading the embedding model and building indexes allocate and free many small blocks. glibc keeps freed blocks
in its heap, so without this the server's resident size stays at its high-water mark: 48 MB above what the seed
knowledge base needs, measured here. Where the C library is not glibc, `trim` does nothing.
"""

from __future__ import annotations

import ctypes
from functools import cache


@cache
def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to hand back this way
        return None


def trim() -> None:
    """Return free heap pages to the operating system (glibc's malloc_trim(0)); safe to call from any thread."""
    release = _malloc_trim()
    if release is not None:
        release(0)
