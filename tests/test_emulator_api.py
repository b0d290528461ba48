"""The NCSDK 1.x Python API: the sample sequence runs unchanged, and misuse
raises Exception(Status.X) as NCSDK's wrapper did."""
import numpy
import pytest

from emulator import costmodel
from emulator import mvncapi as mvnc
from emulator.reader import load_graph
from emulator_helpers import GraphBuilder, Op, PadStyle, f16, tf_eval
from tfcompat import tf


def graph_file():
    """conv 3x3 SAME + relu -> global average pool -> softmax (4 classes)."""
    b = GraphBuilder(shaves=12)
    mid, pooled = b.buffer(6, 6, 4), b.buffer(1, 1, 4)
    b.stage(Op.CONV, b.input(6, 6, 3), mid, taps=b.const(WEIGHTS),
            tap_dims=(9, 3, 4), radix=(3, 3), pad_style=PadStyle.TF_SAME,
            post_op=Op.RELU)
    b.stage(Op.AVG_POOL, mid, pooled, radix=(6, 6),
            pad_style=PadStyle.TF_VALID)
    b.stage(Op.SOFTMAX, pooled, b.output(1, 1, 4))
    return b.build()


WEIGHTS = f16(numpy.random.default_rng(3).standard_normal((3, 3, 3, 4)))


def status_of(excinfo):
    return excinfo.value.args[0]


@pytest.fixture
def device():
    names = mvnc.EnumerateDevices()
    dev = mvnc.Device(names[0])
    dev.OpenDevice()
    yield dev
    if dev.name in mvnc._open:
        dev.CloseDevice()


def test_ncsdk_sample_sequence(tmp_path):
    """The NCSDK 1.x sample, verbatim apart from the import."""
    path = tmp_path / "graph"
    path.write_bytes(graph_file())
    im = numpy.random.default_rng(0).standard_normal((6, 6, 3))

    devices = mvnc.EnumerateDevices()
    device = mvnc.Device(devices[0])
    device.OpenDevice()
    with open(path, mode="rb") as f:
        blob = f.read()
    graph = device.AllocateGraph(blob)
    graph.SetGraphOption(mvnc.GraphOption.ITERATIONS, 1)
    graph.LoadTensor(im.astype(numpy.float16), "user object")
    out, userobj = graph.GetResult()
    graph.DeallocateGraph()
    device.CloseDevice()

    assert userobj == "user object"
    assert out.dtype == numpy.float16 and out.shape == (4,)
    want = tf_eval(lambda a, w: tf.nn.softmax(tf.reduce_mean(tf.nn.relu(
        tf.nn.conv2d(a[None], w, 1, "SAME")), axis=[1, 2]))[0],
        f16(im), WEIGHTS)
    numpy.testing.assert_allclose(out.astype(numpy.float32), want, atol=2e-3)


def test_enum_values_match_ncsdk():
    assert [s.value for s in mvnc.Status] == list(range(0, -12, -1))
    assert mvnc.Status.UNSUPPORTED_GRAPH_FILE.value == -10
    assert (mvnc.GraphOption.ITERATIONS.value, mvnc.GraphOption.DONT_BLOCK.value,
            mvnc.GraphOption.TIME_TAKEN.value,
            mvnc.GraphOption.DEBUG_INFO.value) == (0, 2, 1000, 1001)
    assert mvnc.DeviceOption.TEMP_LIM_LOWER.value == 1
    assert mvnc.DeviceOption.THERMAL_STATS.value == 1000
    assert mvnc.DeviceOption.THERMAL_THROTTLING_LEVEL.value == 1002
    assert mvnc.GlobalOption.LOG_LEVEL.value == 0


def test_device_count_from_environment(monkeypatch):
    monkeypatch.setenv("MVNC_EMULATED_DEVICES", "3")
    names = mvnc.EnumerateDevices()
    assert len(names) == 3 and len(set(names)) == 3
    monkeypatch.setenv("MVNC_EMULATED_DEVICES", "0")
    assert mvnc.EnumerateDevices() == []


def test_unknown_device_name():
    with pytest.raises(Exception) as e:
        mvnc.Device("no-such-stick").OpenDevice()
    assert status_of(e) == mvnc.Status.DEVICE_NOT_FOUND


def test_device_opened_twice_is_busy(device):
    with pytest.raises(Exception) as e:
        mvnc.Device(device.name).OpenDevice()
    assert status_of(e) == mvnc.Status.BUSY


def test_closed_device_and_its_graphs_refuse_calls(device):
    graph = device.AllocateGraph(graph_file())
    device.CloseDevice()
    for call in (lambda: device.AllocateGraph(graph_file()),
                 lambda: graph.LoadTensor(numpy.zeros((6, 6, 3), numpy.float16),
                                          None),
                 lambda: graph.GetResult(), device.CloseDevice):
        with pytest.raises(Exception) as e:
            call()
        assert status_of(e) == mvnc.Status.INVALID_PARAMETERS


def test_deallocated_graph_refuses_calls(device):
    graph = device.AllocateGraph(graph_file())
    graph.DeallocateGraph()
    for call in (lambda: graph.GetResult(), graph.DeallocateGraph,
                 lambda: graph.GetGraphOption(mvnc.GraphOption.ITERATIONS)):
        with pytest.raises(Exception) as e:
            call()
        assert status_of(e) == mvnc.Status.INVALID_PARAMETERS


def test_malformed_graph_file_is_unsupported(device):
    blob = bytearray(graph_file())
    blob[36] = 3                                      # version
    with pytest.raises(Exception) as e:
        device.AllocateGraph(bytes(blob))
    assert status_of(e) == mvnc.Status.UNSUPPORTED_GRAPH_FILE
    assert "version" in device.last_error
    with pytest.raises(Exception) as e:
        device.AllocateGraph(b"\0" * 100)
    assert status_of(e) == mvnc.Status.UNSUPPORTED_GRAPH_FILE


def test_graph_that_is_not_bytes_is_invalid_parameters(device):
    for bad in (None, 12, "graph"):
        with pytest.raises(Exception) as e:
            device.AllocateGraph(bad)
        assert status_of(e) == mvnc.Status.INVALID_PARAMETERS


def test_get_result_with_nothing_loaded_is_no_data(device):
    """NO_DATA: NCSDK 1.x's wrapper returned (None, None), it did not raise."""
    graph = device.AllocateGraph(graph_file())
    assert graph.GetResult() == (None, None)


def test_wrong_input_size_or_type_is_invalid_parameters(device):
    graph = device.AllocateGraph(graph_file())
    for bad in (numpy.zeros((6, 6, 3), numpy.float32),
                numpy.zeros((6, 6, 2), numpy.float16)):
        with pytest.raises(Exception) as e:
            graph.LoadTensor(bad, None)
        assert status_of(e) == mvnc.Status.INVALID_PARAMETERS
    assert "bytes" in graph.GetGraphOption(mvnc.GraphOption.DEBUG_INFO)


def test_two_in_flight_fifo_then_busy_when_dont_block(device):
    graph = device.AllocateGraph(graph_file())
    graph.SetGraphOption(mvnc.GraphOption.DONT_BLOCK, 1)
    rng = numpy.random.default_rng(1)
    ims = [rng.standard_normal((6, 6, 3)).astype(numpy.float16)
           for _ in range(3)]
    graph.LoadTensor(ims[0], "first")
    graph.LoadTensor(ims[1], {"second": 2})
    assert graph.LoadTensor(ims[2], "third") is False   # BUSY, as NCSDK
    out1, u1 = graph.GetResult()
    out2, u2 = graph.GetResult()
    assert u1 == "first" and u2 == {"second": 2}
    assert not numpy.array_equal(out1, out2)
    graph.LoadTensor(ims[0], "again")
    again, _ = graph.GetResult()
    numpy.testing.assert_array_equal(again, out1)


def test_time_taken_is_the_cost_model_per_stage(device):
    blob = graph_file()
    graph = device.AllocateGraph(blob)
    graph.LoadTensor(numpy.zeros((6, 6, 3), numpy.float16), None)
    graph.GetResult()
    t = graph.GetGraphOption(mvnc.GraphOption.TIME_TAKEN)
    assert t.dtype == numpy.float32 and t.shape == (3,)
    stages = load_graph(blob).stages
    want = [costmodel.stage_time_ms(s, 12) for s in stages]
    numpy.testing.assert_allclose(t, want, rtol=1e-6)


def test_graph_and_device_options(device):
    graph = device.AllocateGraph(graph_file())
    graph.SetGraphOption(mvnc.GraphOption.ITERATIONS, 3)
    assert graph.GetGraphOption(mvnc.GraphOption.ITERATIONS) == 3
    graph.SetGraphOption(mvnc.GraphOption.DONT_BLOCK, 1)
    assert graph.GetGraphOption(mvnc.GraphOption.DONT_BLOCK) == 1
    with pytest.raises(Exception) as e:
        graph.SetGraphOption(mvnc.GraphOption.TIME_TAKEN, 1)
    assert status_of(e) == mvnc.Status.INVALID_PARAMETERS
    device.SetDeviceOption(mvnc.DeviceOption.TEMP_LIM_LOWER, 80)
    assert device.GetDeviceOption(mvnc.DeviceOption.TEMP_LIM_LOWER) == 80
    assert device.GetDeviceOption(
        mvnc.DeviceOption.THERMAL_THROTTLING_LEVEL) == 0
    stats = device.GetDeviceOption(mvnc.DeviceOption.THERMAL_STATS)
    assert stats.dtype == numpy.float32
    with pytest.raises(Exception) as e:
        device.SetDeviceOption(mvnc.DeviceOption.THERMAL_STATS, 1)
    assert status_of(e) == mvnc.Status.INVALID_PARAMETERS


def test_global_log_level():
    old = mvnc.GetGlobalOption(mvnc.GlobalOption.LOG_LEVEL)
    mvnc.SetGlobalOption(mvnc.GlobalOption.LOG_LEVEL, 2)
    assert mvnc.GetGlobalOption(mvnc.GlobalOption.LOG_LEVEL) == 2
    mvnc.SetGlobalOption(mvnc.GlobalOption.LOG_LEVEL, old)


def test_debug_env_reports_guard_band_violation_as_myriad_error(
        device, monkeypatch):
    from emulator_helpers import T, compact
    b = GraphBuilder()
    a = b.buffer(2, 2, 2)
    b.stage(Op.RELU, b.input(2, 2, 2), a)
    bad = T(a.index + 1, a.pointer + 20, (2, 2, 2), compact(2, 2, 2))
    b.stage(Op.RELU, a, bad)
    b.stage(Op.RELU, bad, b.output(2, 2, 2))
    monkeypatch.setenv("MVNC_EMULATOR_DEBUG", "1")
    graph = device.AllocateGraph(b.build())
    with pytest.raises(Exception) as e:
        graph.LoadTensor(numpy.ones((2, 2, 2), numpy.float16), None)
    assert status_of(e) == mvnc.Status.MYRIAD_ERROR
    assert "guard band" in graph.GetGraphOption(mvnc.GraphOption.DEBUG_INFO)


def test_blas_threads_default_to_the_usable_cores(monkeypatch):
    import os
    from emulator.ops import blas
    monkeypatch.delenv("MVNC_EMULATOR_BLAS_THREADS", raising=False)
    assert blas._wanted() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("MVNC_EMULATOR_BLAS_THREADS", "1")
    assert blas._wanted() == 1
