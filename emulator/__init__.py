"""The emulated Neural Compute Stick: reads NCS graph files (version 2) and
runs them in numpy, behind the NCSDK 1.x Python API.

Modules: ``reader`` (bytes -> validated Graph), ``executor`` and ``ops``
(run the stages over real memory), ``mvncapi`` (NCSDK 1.x API),
``metrics`` (mvNCCheck's comparison), ``costmodel`` (per-stage times).

``Status`` lives here because both the reader (which refuses files with a
status) and the API (which raises it) need it.
"""
from enum import Enum


class Status(Enum):
    """NCSDK 1.x status codes (mvnc.Status); failures raise Exception(Status.X)."""
    OK = 0
    BUSY = -1
    ERROR = -2
    OUT_OF_MEMORY = -3
    DEVICE_NOT_FOUND = -4
    INVALID_PARAMETERS = -5
    TIMEOUT = -6
    MVCMD_NOT_FOUND = -7
    NO_DATA = -8
    GONE = -9
    UNSUPPORTED_GRAPH_FILE = -10
    MYRIAD_ERROR = -11


__all__ = ["Status"]
