"""A relaxed cyclic garbage collector for bulk work (report, export at scale, issue 12).

A report or export of 500 companies builds millions of small objects that stay alive until
the end (pandas rows, template values, WeasyPrint boxes and styles). Python's cyclic
collector runs after every 700 new objects and walks the young ones again and again; with a
first-generation threshold of 50,000 the PDF of 500 companies takes ~9 s less CPU and the
XLSX export ~2 s less, with the same peak memory (the objects are live, there is little
garbage to find).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

GC_THRESHOLD = 50_000


@contextmanager
def relaxed_gc(threshold: int = GC_THRESHOLD) -> Iterator[None]:
    """Run the block with a higher first-generation threshold of the cyclic collector."""
    old = gc.get_threshold()
    gc.set_threshold(max(threshold, old[0]), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)
