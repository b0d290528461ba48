"""Large row-wise numpy work in two halves on two threads at once.

numpy releases the GIL inside einsum, so the output rows of a large
depthwise layer split between the calling thread and one helper thread run
on two cores: 1.3-1.5x faster from ~250k outputs (MobileNet's 112x112x32
layer), slower below, where the hand-off costs more than it saves. Each
output row is computed exactly as in one piece. Only when BLAS may use two
threads or more (MVNC_EMULATOR_BLAS_THREADS; the pipeline's checks set 1,
as they run side by side).
"""
import threading
from concurrent.futures import ThreadPoolExecutor

from . import blas

MIN_VALUES = 1 << 18        # outputs below which one thread is faster

_lock = threading.Lock()
_pool = None


def _helper():
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(1, thread_name_prefix="emulator-rows")
        return _pool


def split_rows(fn, rows, values):
    """fn(lo, hi) over the rows [0, rows): two halves at once if worth it."""
    if values < MIN_VALUES or rows < 2 or blas._wanted() < 2:
        fn(0, rows)
        return
    half = rows // 2
    other = _helper().submit(fn, half, rows)
    try:
        fn(0, half)
    finally:
        other.result()
