"""One inference on the emulated stick through the NCSDK 1.x calls a user makes."""
import numpy as np

from emulator import mvncapi as mvnc


def run_once(blob, tensor, userobj=None):
    """Open a device, allocate the graph, run `tensor` (fp16) once.

    Returns (flat fp16 result, float32 ms per stage from TIME_TAKEN); NCSDK
    failures raise as NCSDK's did, Exception(Status.X).
    """
    device = mvnc.Device(mvnc.EnumerateDevices()[0])
    device.OpenDevice()
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
