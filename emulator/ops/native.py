"""The C loops of _native.c when they were built, else None.

`pip install` (and `make venv`) compiles emulator/ops/_native.c; without a
C compiler the emulator runs the numpy kernels instead, slower (MobileNet
v1 1.0/224: about 1.7x) but with the same bits. MVNC_EMULATOR_NATIVE=0
forces numpy, as the tests do to compare the two.
"""
import os

try:
    from . import _native as _module
except ImportError:         # not built: numpy does it all
    _module = None

IDENTITY, RELU, CLIP = 0, 1, 2      # _native.finish's modes


def loops():
    """The _native module, or None when not built or switched off."""
    if os.environ.get("MVNC_EMULATOR_NATIVE", "1") == "0":
        return None
    return _module


def built():
    """True if the C loops were compiled for this install."""
    return _module is not None
