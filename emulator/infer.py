"""One inference on the emulated stick, through the NCSDK 1.x calls."""
import numpy as np

from emulator import mvncapi as mvnc


def open_free_device():
    """The first emulated device not open elsewhere in this process, opened.

    Raises Exception(Status.DEVICE_NOT_FOUND) if there are none,
    Exception(Status.BUSY) if every one is open.
    """
    names = mvnc.EnumerateDevices()
    for name in names:
        device = mvnc.Device(name)
        try:
            device.OpenDevice()
        except Exception as e:   # NCSDK style: Exception(Status.X)
            if e.args and e.args[0] == mvnc.Status.BUSY:
                continue
            raise
        return device
    raise Exception(mvnc.Status.BUSY if names else
                    mvnc.Status.DEVICE_NOT_FOUND)


def run_once(blob, tensor, userobj=None):
    """Open a free device, allocate the graph, run `tensor` (fp16) once.

    Returns (flat fp16 result, float32 ms per stage from TIME_TAKEN); NCSDK
    failures raise as NCSDK's did, Exception(Status.X).
    """
    device = open_free_device()
    try:
        graph = device.AllocateGraph(blob)
        try:
            graph.LoadTensor(tensor, userobj)
            result, _ = graph.GetResult()
            times = graph.GetGraphOption(mvnc.GraphOption.TIME_TAKEN)
        finally:
            graph.DeallocateGraph()
    finally:
        device.CloseDevice()
    return np.asarray(result, np.float16).reshape(-1), np.asarray(times)
