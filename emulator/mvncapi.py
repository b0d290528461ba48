"""NCSDK 1.x's Python API (NCAPI v1, ``mvnc.mvncapi``) on the emulated stick.

NCSDK apps import it unchanged as ``from mvnc import mvncapi as mvnc`` (the
top-level ``mvnc`` package re-exports this module); the project's own code
says ``from emulator import mvncapi as mvnc``. Names, enum values, argument
and result types follow NCSDK 1.12's documentation, and every failure
raises ``Exception(Status.X)`` as NCSDK's wrapper did. The names NCSDK 1.09
used (``GlobalOption.LOGLEVEL``, ``GraphOption.DONTBLOCK``, ``TIMETAKEN``,
``DEBUGINFO``, ``DeviceOption.THERMALSTATS``, ``OPTIMISATIONLIST``) are
aliases, as later 1.x releases still accepted them.

Devices: ``MVNC_EMULATED_DEVICES`` (default 1) sticks named
``emulated-ncs-0``, ``-1``, ...; a name is open at most once at a time, and
a device holds one graph at a time, as NCSDK 1.x's host library allowed.
Several devices may be used from several threads at once, and one graph
from several threads (a producer loading, a consumer collecting).

Emulation choices:

- LoadTensor runs the graph in the calling thread, one inference per device
  at a time; the result waits in a FIFO of two (the stick's) for GetResult.
- Blocking mode (DONT_BLOCK 0, the default): LoadTensor on a full FIFO
  waits for another thread's GetResult, GetResult waits for an inference
  still running. Where the stick would wait forever (a full FIFO nobody
  empties) LoadTensor gives up after FIFO_WAIT_S with TIMEOUT.
  DONT_BLOCK 1: a full FIFO is BUSY, no finished result is NO_DATA.
  GetResult with nothing loaded is NO_DATA in either mode. As NCSDK 1.x's
  wrapper did, these two are not raised: LoadTensor returns False for BUSY
  (True when queued) and GetResult returns (None, None) for NO_DATA.
- ITERATIONS (>= 1) is kept, but the graph runs once per LoadTensor
  (repeats give identical bytes). TIME_TAKEN is the cost model's per-stage
  estimate (ms, float32) of the last inference, zeros before the first,
  not wall-clock time. NETWORK_THROTTLE is kept (0 or 1).
- The emulated stick never heats: THERMAL_STATS is a constant reading of
  EMULATED_TEMP_C, THERMAL_THROTTLING_LEVEL is 0, 1 or 2 as that reading
  compares with TEMP_LIM_LOWER/HIGHER (0 with the defaults) and slows
  nothing. OPTIMISATION_LIST names the stage types the emulator runs.
- LOG_LEVEL 0 says nothing; 1 says on stderr why a call was refused; 2
  also says what devices and graphs do, and each odd thing a graph file
  held that the emulator accepted (the reader's ``Graph.warnings``).

``MVNC_EMULATOR_DEBUG=1`` checks work-buffer guard bands after each stage
(a violation fails LoadTensor with MYRIAD_ERROR; DEBUG_INFO says where). A
file with no room for guard bands (NCSDK 1.x's own layout) runs unchecked,
and DEBUG_INFO says so.
``MVNC_EMULATOR_BLAS_THREADS`` sets BLAS threads per inference (ops.blas).

Misuse gives the statuses of NCSDK 1.x's host library: an unknown device
name DEVICE_NOT_FOUND, an open name BUSY, a second graph on a device BUSY,
any call on a closed device or a deallocated graph (handles the library no
longer knows) INVALID_PARAMETERS, a malformed graph file
UNSUPPORTED_GRAPH_FILE, an input of the wrong byte size or an option of
the wrong kind INVALID_PARAMETERS. An option value of the wrong type is
INVALID_PARAMETERS too (NCSDK's wrapper let ctypes raise a TypeError).
"""
import numbers
import os
import sys
import threading
from collections import deque
from enum import Enum

import numpy

from . import Status
from .costmodel import graph_times_ms
from .executor import Executor, GuardBandError
from .ops import KERNELS, blas
from .reader import GraphFileError, load_graph

MAX_IN_FLIGHT = 2           # results the stick holds before GetResult
FIFO_WAIT_S = 10.0          # a blocking LoadTensor on a full FIFO gives up
EMULATED_TEMP_C = 40.0      # the emulated stick's constant temperature
THERMAL_STATS_COUNT = 100   # readings in THERMAL_STATS

__all__ = ["Status", "GlobalOption", "DeviceOption", "GraphOption",
           "EnumerateDevices", "SetGlobalOption", "GetGlobalOption",
           "Device", "Graph"]


class GlobalOption(Enum):
    LOG_LEVEL = 0
    LOGLEVEL = 0                    # NCSDK 1.09's name


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
    THERMALSTATS = 1000             # NCSDK 1.09's names
    OPTIMISATIONLIST = 1001


class GraphOption(Enum):
    ITERATIONS = 0
    NETWORK_THROTTLE = 1
    DONT_BLOCK = 2
    TIME_TAKEN = 1000
    DEBUG_INFO = 1001
    DONTBLOCK = 2                   # NCSDK 1.09's names
    TIMETAKEN = 1000
    DEBUGINFO = 1001


_TEMP_LIMITS = (DeviceOption.TEMP_LIM_LOWER, DeviceOption.TEMP_LIM_HIGHER)
_DEVICE_DEFAULTS = {DeviceOption.TEMP_LIM_LOWER: 95.0,     # the stick's own
                    DeviceOption.TEMP_LIM_HIGHER: 100.0,
                    DeviceOption.BACKOFF_TIME_NORMAL: 0,
                    DeviceOption.BACKOFF_TIME_HIGH: 100,
                    DeviceOption.BACKOFF_TIME_CRITICAL: 10000,
                    DeviceOption.TEMPERATURE_DEBUG: 0}
_GRAPH_DEFAULTS = {GraphOption.ITERATIONS: 1,
                   GraphOption.NETWORK_THROTTLE: 1,
                   GraphOption.DONT_BLOCK: 0}
_globals = {GlobalOption.LOG_LEVEL: 0}
_open = {}                  # device name -> the Device that holds it
_lock = threading.RLock()   # guards _open and which graph a device holds


def _log(level, message):
    """One line on stderr when LOG_LEVEL is at least ``level``."""
    if _globals[GlobalOption.LOG_LEVEL] >= level:
        print(f"mvnc (emulated): {message}", file=sys.stderr, flush=True)


def _refuse(status, why):
    """Raise as NCSDK did; LOG_LEVEL >= 1 also says why."""
    _log(1, f"{status.name}: {why}")
    raise Exception(status)


def _number(data, kind):
    """``data`` as NCSDK's c_int / c_float took it; else INVALID_PARAMETERS."""
    wanted = numbers.Integral if kind is int else numbers.Real
    if not isinstance(data, wanted):
        _refuse(Status.INVALID_PARAMETERS,
                f"option value {data!r} is not {kind.__name__}")
    return kind(data)


class _BlasSection:
    """Holds BLAS at the configured thread count while any inference runs.

    OpenBLAS's thread count is process-wide: each inference setting it and
    restoring its own "previous" value from several threads would leave
    the wrong count behind, or change it under another running inference.
    The first inference in sets it, the last one out restores it; in
    between every inference's own blas.threads() finds it already set.
    """

    def __init__(self):
        self._guard = threading.Lock()
        self._users = 0
        self._context = None

    def __enter__(self):
        with self._guard:
            if self._users == 0:
                self._context = blas.threads()
                self._context.__enter__()
            self._users += 1

    def __exit__(self, *exc):
        with self._guard:
            self._users -= 1
            if self._users == 0:
                context, self._context = self._context, None
                context.__exit__(None, None, None)


_blas_section = _BlasSection()


def _device_names():
    raw = os.environ.get("MVNC_EMULATED_DEVICES", "1")
    try:
        n = int(raw)
    except ValueError:
        _log(1, f"MVNC_EMULATED_DEVICES={raw!r} is not a number: 1 device")
        n = 1
    return [f"emulated-ncs-{i}" for i in range(max(n, 0))]


def EnumerateDevices():
    """Names of the emulated sticks (see MVNC_EMULATED_DEVICES)."""
    return _device_names()


def SetGlobalOption(opt, data):
    if not isinstance(opt, GlobalOption):
        _refuse(Status.INVALID_PARAMETERS, f"{opt!r} is not a GlobalOption")
    _globals[opt] = _number(data, int)


def GetGlobalOption(opt):
    if not isinstance(opt, GlobalOption):
        _refuse(Status.INVALID_PARAMETERS, f"{opt!r} is not a GlobalOption")
    return _globals[opt]


class Device:
    """One emulated stick, opened by the name EnumerateDevices gave."""

    def __init__(self, name):
        self.name = name
        # not in NCSDK: why AllocateGraph refused the last graph file, or
        # what odd things it accepted in it (NCSDK-made files), else ""
        self.last_error = ""
        self._opened = False
        self._graph = None
        self._options = dict(_DEVICE_DEFAULTS)

    def OpenDevice(self):
        with _lock:
            if self.name not in _device_names():
                _refuse(Status.DEVICE_NOT_FOUND,
                        f"no device named {self.name!r}")
            if self.name in _open:
                _refuse(Status.BUSY, f"{self.name} is already open")
            _open[self.name] = self
            self._opened = True
        _log(2, f"{self.name}: opened")

    def CloseDevice(self):
        with _lock:
            self._check()
            if self._graph is not None:
                self._graph._release()
            del _open[self.name]
            self._opened = False
        _log(2, f"{self.name}: closed")

    def _check(self):
        if not self._opened:
            _refuse(Status.INVALID_PARAMETERS,
                    f"device {self.name!r} is not open")

    def SetDeviceOption(self, opt, data):
        self._check()
        if opt not in self._options:
            _refuse(Status.INVALID_PARAMETERS, f"{opt!r} cannot be set")
        self._options[opt] = _number(data, float if opt in _TEMP_LIMITS
                                     else int)

    def GetDeviceOption(self, opt):
        self._check()
        if opt == DeviceOption.THERMAL_STATS:
            return numpy.full(THERMAL_STATS_COUNT, EMULATED_TEMP_C,
                              numpy.float32)
        if opt == DeviceOption.OPTIMISATION_LIST:
            return sorted(op.name for op in KERNELS)
        if opt == DeviceOption.THERMAL_THROTTLING_LEVEL:
            return sum(EMULATED_TEMP_C >= self._options[o]
                       for o in _TEMP_LIMITS)
        if opt not in self._options:
            _refuse(Status.INVALID_PARAMETERS,
                    f"{opt!r} is not a DeviceOption")
        return self._options[opt]

    def AllocateGraph(self, graphfile):
        """Validates the graph file and makes it runnable on this device."""
        with _lock:
            self._check()
            self._one_graph()
        try:
            graph = load_graph(graphfile)
        except GraphFileError as e:
            self.last_error = str(e)
            _refuse(e.status, f"{self.name}: graph file refused: {e}")
        except TypeError:
            self.last_error = "the graph file must be bytes"
            _refuse(Status.INVALID_PARAMETERS,
                    f"{self.name}: {self.last_error}, not "
                    f"{type(graphfile).__name__}")
        g = Graph(self, graph)
        with _lock:     # another thread may have closed or filled it
            self._check()
            self._one_graph()
            self._graph = g
        self.last_error = "; ".join(f"accepted: {w}" for w in graph.warnings)
        _report(self.name, graph)
        return g

    def _one_graph(self):
        if self._graph is not None:
            self.last_error = "the device already holds a graph"
            _refuse(Status.BUSY, f"{self.name}: {self.last_error} (NCSDK "
                    f"1.x runs one graph per device)")


def _report(device, graph):
    """Verbose: the graph allocated, and what odd things it was let off."""
    _log(2, f"{device}: graph {graph.name!r} allocated: "
         f"{len(graph.stages)} stages, {graph.shaves} shaves, input "
         f"{graph.input_bytes} bytes, output {graph.output_count} values")
    for warning in getattr(graph, "warnings", None) or ():
        _log(2, f"{device}: graph {graph.name!r}: accepted: {warning}")


class _Pending:
    """One LoadTensor's place in the FIFO; its result once it has run."""
    __slots__ = ("userobj", "result", "done")

    def __init__(self, userobj):
        self.userobj, self.result, self.done = userobj, None, False


class Graph:
    """A graph allocated on a device: LoadTensor / GetResult."""

    def __init__(self, device, graph):
        self._device = device
        self._graph = graph
        debug = os.environ.get("MVNC_EMULATOR_DEBUG", "") not in ("", "0")
        self._executor = Executor(graph, debug=debug)
        self._running = threading.Lock()    # one inference at a time
        self._fifo = deque()                # _Pending, oldest first
        self._changed = threading.Condition()
        self._estimate = numpy.array(        # static: depends on records only
            graph_times_ms(graph.stages, graph.shaves), numpy.float32)
        self._times = numpy.zeros(len(graph.stages), numpy.float32)
        self._debug_info = self._executor.debug_note
        if self._debug_info:
            _log(1, f"{device}: graph {graph.name!r}: {self._debug_info}")
        self._options = dict(_GRAPH_DEFAULTS)

    def _release(self):
        """Forget the graph (caller holds _lock); wake anyone waiting on it."""
        with self._changed:
            self._device._graph = None
            self._device = None
            self._fifo.clear()
            self._changed.notify_all()

    def _check(self):
        if self._device is None:
            _refuse(Status.INVALID_PARAMETERS, "the graph is deallocated")

    def DeallocateGraph(self):
        with _lock:
            self._check()
            name = self._device.name
            self._release()
        _log(2, f"{name}: graph {self._graph.name!r} deallocated")

    def SetGraphOption(self, opt, data):
        self._check()
        if opt not in self._options:
            _refuse(Status.INVALID_PARAMETERS, f"{opt!r} cannot be set")
        value = _number(data, int)
        if opt == GraphOption.ITERATIONS and value < 1:
            _refuse(Status.INVALID_PARAMETERS, f"ITERATIONS {value} < 1")
        self._options[opt] = value

    def GetGraphOption(self, opt):
        self._check()
        if opt == GraphOption.TIME_TAKEN:
            return self._times.copy()
        if opt == GraphOption.DEBUG_INFO:
            return self._debug_info
        if opt not in self._options:
            _refuse(Status.INVALID_PARAMETERS, f"{opt!r} is not a GraphOption")
        return self._options[opt]

    def LoadTensor(self, tensor, userobj):
        """Sends one fp16 input, runs the graph and queues the result; True,
        or False when the FIFO is full (BUSY), as NCSDK's wrapper returned."""
        data = self._input_bytes(tensor)
        try:
            pending = self._enqueue(userobj)
        except Exception as exc:    # noqa: BLE001 - NCSDK: BUSY is False
            if exc.args and exc.args[0] == Status.BUSY:
                return False
            raise
        try:
            pending.result = self._infer(data)
        finally:
            with self._changed:
                if pending.result is None and pending in self._fifo:
                    self._fifo.remove(pending)
                pending.done = True
                self._changed.notify_all()
        return True

    def _input_bytes(self, tensor):
        self._check()
        try:
            array = numpy.ascontiguousarray(tensor)
        except (TypeError, ValueError):
            array = numpy.zeros(0, object)
        if array.dtype.kind not in "biuf":
            self._debug_info = f"input of dtype {array.dtype}, not numbers"
            _refuse(Status.INVALID_PARAMETERS, self._debug_info)
        data = array.tobytes()
        if len(data) != self._graph.input_bytes:
            self._debug_info = (f"input tensor of {len(data)} bytes, the "
                                f"graph expects {self._graph.input_bytes}")
            _refuse(Status.INVALID_PARAMETERS, self._debug_info)
        return data

    def _enqueue(self, userobj):
        """A place in the FIFO, waiting for one in blocking mode."""
        with self._changed:
            self._check()
            if len(self._fifo) >= MAX_IN_FLIGHT:
                if self._options[GraphOption.DONT_BLOCK]:
                    _refuse(Status.BUSY, f"{MAX_IN_FLIGHT} results are "
                            f"waiting for GetResult (DONT_BLOCK)")
                if not self._changed.wait_for(self._has_room, FIFO_WAIT_S):
                    _refuse(Status.TIMEOUT, f"no GetResult emptied the FIFO "
                            f"in {FIFO_WAIT_S} s: the stick would hang")
                self._check()
            pending = _Pending(userobj)
            self._fifo.append(pending)
            return pending

    def _has_room(self):
        return self._device is None or len(self._fifo) < MAX_IN_FLIGHT

    def _infer(self, data):
        with self._running, _blas_section:
            try:    # ITERATIONS repeats would give identical bytes: run once
                out = self._executor.run(data)
            except GuardBandError as e:
                self._debug_info = str(e)
                _refuse(Status.MYRIAD_ERROR, str(e))
            self._times = self._estimate
        return out

    def GetResult(self):
        """The oldest queued result: (1-D fp16 array, user object), or
        (None, None) when there is none (NO_DATA), as NCSDK's wrapper did."""
        try:
            return self._oldest_result()
        except Exception as exc:    # noqa: BLE001 - NCSDK: NO_DATA is None
            if exc.args and exc.args[0] == Status.NO_DATA:
                return None, None
            raise

    def _oldest_result(self):
        with self._changed:
            self._check()
            if not self._fifo:
                _refuse(Status.NO_DATA, "GetResult with no LoadTensor pending")
            if not self._fifo[0].done:
                if self._options[GraphOption.DONT_BLOCK]:
                    _refuse(Status.NO_DATA, "the inference is still running "
                            "(DONT_BLOCK)")
                self._changed.wait_for(self._oldest_settled)
                self._check()
                if not self._fifo:      # it failed in its own thread
                    _refuse(Status.NO_DATA, "the inference failed")
            pending = self._fifo.popleft()
            self._changed.notify_all()
            return pending.result, pending.userobj

    def _oldest_settled(self):
        return (self._device is None or not self._fifo
                or self._fifo[0].done)
