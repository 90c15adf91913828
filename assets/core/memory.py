"""Building large batches of parsed JSON without the cyclic garbage collector.

A batch of documents (a page of a sample source, the MongoDB sink's 20k landed documents) is
hundreds of thousands of small dicts held until the batch is done. With the collector on, they
are traversed and promoted again and again, and each promotion wave triggers a full collection
of the whole process: in a run, a heap that already holds the code location (measured: half of
a sample page's build time, a third of the sink's document mapping). Such documents hold no
reference cycles, so reference counting frees them all and pausing the collector leaks nothing.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic collector off for the block (nested blocks and threads: it is turned back on
    only by the block that turned it off)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
