"""The NCSDK 1.x Python API (``mvnc.mvncapi``) over the emulated stick.

Code written for NCSDK 1.x runs unchanged apart from the import::

    from emulator import mvncapi as mvnc

Failures raise ``Exception(Status.X)`` as NCSDK's wrapper did. Inference
runs synchronously inside LoadTensor; its result waits in a FIFO (at most
two in flight, as on the stick) until GetResult. ITERATIONS is stored but
the graph runs once per LoadTensor (repeats give identical bytes).
TIME_TAKEN reports the cost model's per-stage estimate, not wall-clock time.

``MVNC_EMULATED_DEVICES`` (default 1) sets how many devices
EnumerateDevices reports; their names are ``emulated-ncs-0``, ``-1``, ...
``MVNC_EMULATOR_DEBUG=1`` checks work-buffer guard bands after each stage
(a violation fails LoadTensor with MYRIAD_ERROR; DEBUG_INFO says where).
``MVNC_EMULATOR_BLAS_THREADS`` (default 1) sets BLAS threads per inference.

Misuse maps to the statuses the NCSDK 1.x host library returned: an unknown
device name DEVICE_NOT_FOUND, a name already open BUSY, any call on a closed
device or a deallocated graph (handles the library no longer knows)
INVALID_PARAMETERS, a malformed graph file UNSUPPORTED_GRAPH_FILE, an input
of the wrong byte size INVALID_PARAMETERS, a third LoadTensor before
GetResult BUSY, GetResult with nothing queued NO_DATA.
"""
import os
from collections import deque
from enum import Enum

import numpy

from . import Status
from .costmodel import graph_times_ms
from .executor import Executor, GuardBandError
from .reader import GraphFileError, load_graph

MAX_IN_FLIGHT = 2


class GlobalOption(Enum):
    LOG_LEVEL = 0


class DeviceOption(Enum):
    TEMP_LIM_LOWER = 1
    TEMP_LIM_HIGHER = 2
    BACKOFF_TIME_NORMAL = 3
    BACKOFF_TIME_HIGH = 4
    BACKOFF_TIME_CRITICAL = 5
    TEMPERATURE_DEBUG = 6
    THERMAL_STATS = 1000
    OPTIMISATION_LIST = 1001
    THERMAL_THROTTLING_LEVEL = 1002


class GraphOption(Enum):
    ITERATIONS = 0
    NETWORK_THROTTLE = 1
    DONT_BLOCK = 2
    TIME_TAKEN = 1000
    DEBUG_INFO = 1001


_READ_ONLY_DEVICE = (DeviceOption.THERMAL_STATS, DeviceOption.OPTIMISATION_LIST,
                     DeviceOption.THERMAL_THROTTLING_LEVEL)
_READ_ONLY_GRAPH = (GraphOption.TIME_TAKEN, GraphOption.DEBUG_INFO)
_globals = {GlobalOption.LOG_LEVEL: 0}
_open = {}          # device name -> the Device that holds it


def _raise(status):
    raise Exception(status)


def _device_names():
    try:
        n = int(os.environ.get("MVNC_EMULATED_DEVICES", "1"))
    except ValueError:
        n = 1
    return [f"emulated-ncs-{i}" for i in range(max(n, 0))]


def EnumerateDevices():
    """Names of the emulated sticks (see MVNC_EMULATED_DEVICES)."""
    return _device_names()


def SetGlobalOption(opt, data):
    if not isinstance(opt, GlobalOption):
        _raise(Status.INVALID_PARAMETERS)
    _globals[opt] = int(data)


def GetGlobalOption(opt):
    if not isinstance(opt, GlobalOption):
        _raise(Status.INVALID_PARAMETERS)
    return _globals[opt]


class Device:
    """One emulated stick, opened by the name EnumerateDevices gave."""

    def __init__(self, name):
        self.name = name
        self.last_error = ""    # not in NCSDK: why AllocateGraph refused
        self._opened = False
        self._graphs = []
        self._options = {DeviceOption.TEMP_LIM_LOWER: 95,
                         DeviceOption.TEMP_LIM_HIGHER: 100,
                         DeviceOption.BACKOFF_TIME_NORMAL: 0,
                         DeviceOption.BACKOFF_TIME_HIGH: 100,
                         DeviceOption.BACKOFF_TIME_CRITICAL: 10000,
                         DeviceOption.TEMPERATURE_DEBUG: 0}

    def OpenDevice(self):
        if self.name not in _device_names():
            _raise(Status.DEVICE_NOT_FOUND)
        if self.name in _open:
            _raise(Status.BUSY)
        _open[self.name] = self
        self._opened = True

    def CloseDevice(self):
        self._check()
        for g in list(self._graphs):
            g._release()
        del _open[self.name]
        self._opened = False

    def _check(self):
        if not self._opened:
            _raise(Status.INVALID_PARAMETERS)

    def SetDeviceOption(self, opt, data):
        self._check()
        if not isinstance(opt, DeviceOption) or opt in _READ_ONLY_DEVICE:
            _raise(Status.INVALID_PARAMETERS)
        self._options[opt] = int(data)

    def GetDeviceOption(self, opt):
        self._check()
        if opt == DeviceOption.THERMAL_STATS:
            return numpy.zeros(100, numpy.float32)
        if opt == DeviceOption.OPTIMISATION_LIST:
            return []
        if opt == DeviceOption.THERMAL_THROTTLING_LEVEL:
            return 0
        if opt not in self._options:
            _raise(Status.INVALID_PARAMETERS)
        return self._options[opt]

    def AllocateGraph(self, graphfile):
        """Validates the graph file and makes it runnable on this device."""
        self._check()
        try:
            graph = load_graph(graphfile)
        except GraphFileError as e:
            self.last_error = str(e)    # extension: why it was refused
            _raise(e.status)
        except TypeError:
            _raise(Status.INVALID_PARAMETERS)
        g = Graph(self, graph)
        self._graphs.append(g)
        return g


class Graph:
    """A graph allocated on a device: LoadTensor / GetResult."""

    def __init__(self, device, graph):
        self._device = device
        self._graph = graph
        debug = os.environ.get("MVNC_EMULATOR_DEBUG", "") not in ("", "0")
        self._executor = Executor(graph, debug=debug)
        self._results = deque()
        self._times = numpy.zeros(0, numpy.float32)
        self._estimate = numpy.array(        # static: depends on records only
            graph_times_ms(graph.stages, graph.shaves), numpy.float32)
        self._debug_info = ""
        self._options = {GraphOption.ITERATIONS: 1,
                         GraphOption.NETWORK_THROTTLE: 1,
                         GraphOption.DONT_BLOCK: 0}

    def _release(self):
        self._device._graphs.remove(self)
        self._device = None

    def _check(self):
        if self._device is None:
            _raise(Status.INVALID_PARAMETERS)

    def DeallocateGraph(self):
        self._check()
        self._release()

    def SetGraphOption(self, opt, data):
        self._check()
        if not isinstance(opt, GraphOption) or opt in _READ_ONLY_GRAPH:
            _raise(Status.INVALID_PARAMETERS)
        self._options[opt] = int(data)

    def GetGraphOption(self, opt):
        self._check()
        if opt == GraphOption.TIME_TAKEN:
            return self._times.copy()
        if opt == GraphOption.DEBUG_INFO:
            return self._debug_info
        if opt not in self._options:
            _raise(Status.INVALID_PARAMETERS)
        return self._options[opt]

    def LoadTensor(self, tensor, userobj):
        """Sends one fp16 input, runs the graph and queues the result."""
        self._check()
        if len(self._results) >= MAX_IN_FLIGHT:
            _raise(Status.BUSY)
        data = numpy.ascontiguousarray(tensor).tobytes()
        if len(data) != self._graph.input_bytes:
            self._debug_info = (f"input tensor of {len(data)} bytes, the "
                                f"graph expects {self._graph.input_bytes}")
            _raise(Status.INVALID_PARAMETERS)
        try:    # ITERATIONS repeats would give identical bytes: run once
            out = self._executor.run(data)
        except GuardBandError as e:
            self._debug_info = str(e)
            _raise(Status.MYRIAD_ERROR)
        self._times = self._estimate
        self._results.append((out, userobj))

    def GetResult(self):
        """The oldest queued result: (1-D fp16 array, user object)."""
        self._check()
        if not self._results:
            _raise(Status.NO_DATA)
        return self._results.popleft()
