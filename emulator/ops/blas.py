"""How many threads numpy's OpenBLAS uses while the emulator runs a graph.

Alone on the machine, an inference is fastest with every core (Inception-
ResNet v2 on 2 cores: 276 ms with 2 threads, 422 ms with 1). But when
several inferences share the cores (parallel pipeline workers), OpenBLAS's
spinning threads make each 3-5x slower than one thread would (MobileNet:
170 vs 45 ms). So each inference runs BLAS with MVNC_EMULATOR_BLAS_THREADS
threads (default: the cores this process may use; the pipeline's check step
sets 1) and restores the previous count afterwards; 0 leaves OpenBLAS alone.
Without numpy's bundled OpenBLAS this is a no-op.
"""
import contextlib
import ctypes
import glob
import os

import numpy as np

_PAIRS = [("scipy_openblas_get_num_threads64_",
           "scipy_openblas_set_num_threads64_"),
          ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
          ("openblas_get_num_threads", "openblas_set_num_threads")]


def _find():
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)),
                        "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*.so*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, set_ in _PAIRS:
            if hasattr(lib, get) and hasattr(lib, set_):
                getter, setter = getattr(lib, get), getattr(lib, set_)
                getter.restype, setter.argtypes = ctypes.c_int, [ctypes.c_int]
                return getter, setter
    return None


_API = _find()


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _wanted():
    try:
        return int(os.environ.get("MVNC_EMULATOR_BLAS_THREADS", _cores()))
    except ValueError:
        return 1


@contextlib.contextmanager
def threads():
    """BLAS limited to the configured thread count inside the block."""
    n = _wanted()
    if _API is None or n <= 0:
        yield
        return
    getter, setter = _API
    old = getter()
    setter(n)
    try:
        yield
    finally:
        setter(old)
