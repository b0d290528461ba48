"""NCAPI v1 as NCSDK apps import it (``mvnc``): every name an app may use,
the options, the FIFO in both modes, several devices from several threads,
and the process-wide BLAS thread count under concurrent inferences.

Expected values are NCSDK 1.12's documented enum values and types, values
the test sets itself, or a single-threaded run of the same input.
"""
import threading
import time

import numpy
import pytest

import emulator.mvncapi as impl
import mvnc.mvncapi as fx
from emulator.ops import KERNELS, blas
from emulator_helpers import GraphBuilder, Op, PadStyle, f16
from mvnc import mvncapi as mvnc

RNG = numpy.random.default_rng(11)
W1 = f16(RNG.standard_normal((3, 3, 8, 16)) * 0.3)


def small_graph(size=12):
    """conv 3x3 SAME (8 -> 16 channels) + relu -> global avg pool -> softmax."""
    b = GraphBuilder(name="threads")
    mid, pooled = b.buffer(size, size, 16), b.buffer(1, 1, 16)
    b.stage(Op.CONV, b.input(size, size, 8), mid, taps=b.const(W1),
            tap_dims=(9, 8, 16), radix=(3, 3), pad_style=PadStyle.TF_SAME,
            post_op=Op.RELU)
    b.stage(Op.AVG_POOL, mid, pooled, radix=(size, size),
            pad_style=PadStyle.TF_VALID)
    b.stage(Op.SOFTMAX, pooled, b.output(1, 1, 16))
    return b.build()


def images(n, size=12, seed=0):
    rng = numpy.random.default_rng(seed)
    return [rng.standard_normal((size, size, 8)).astype(numpy.float16)
            for _ in range(n)]


def status_of(call):
    with pytest.raises(Exception) as e:
        call()
    assert type(e.value) is Exception      # as NCSDK raised: Exception(Status)
    return e.value.args[0]


@pytest.fixture
def devices(monkeypatch):
    """Three emulated sticks; whatever a test leaves open is closed."""
    monkeypatch.setenv("MVNC_EMULATED_DEVICES", "3")
    yield mvnc.EnumerateDevices()
    for dev in list(impl._open.values()):
        dev.CloseDevice()


@pytest.fixture
def device(devices):
    dev = mvnc.Device(devices[0])
    dev.OpenDevice()
    return dev


@pytest.fixture
def log_level():
    old = mvnc.GetGlobalOption(mvnc.GlobalOption.LOG_LEVEL)
    yield
    mvnc.SetGlobalOption(mvnc.GlobalOption.LOG_LEVEL, old)


def test_both_import_forms_are_the_emulated_api():
    for name in impl.__all__:
        assert getattr(mvnc, name) is getattr(impl, name)
        assert getattr(fx, name) is getattr(impl, name)
    assert "emulated stick" in __import__("mvnc").__doc__


def test_enum_values_are_ncsdk_1_12s():
    assert {s.name: s.value for s in mvnc.Status} == {
        "OK": 0, "BUSY": -1, "ERROR": -2, "OUT_OF_MEMORY": -3,
        "DEVICE_NOT_FOUND": -4, "INVALID_PARAMETERS": -5, "TIMEOUT": -6,
        "MVCMD_NOT_FOUND": -7, "NO_DATA": -8, "GONE": -9,
        "UNSUPPORTED_GRAPH_FILE": -10, "MYRIAD_ERROR": -11}
    assert {o.name: o.value for o in mvnc.GlobalOption} == {"LOG_LEVEL": 0}
    assert {o.name: o.value for o in mvnc.DeviceOption} == {
        "TEMP_LIM_LOWER": 1, "TEMP_LIM_HIGHER": 2, "BACKOFF_TIME_NORMAL": 3,
        "BACKOFF_TIME_HIGH": 4, "BACKOFF_TIME_CRITICAL": 5,
        "TEMPERATURE_DEBUG": 6, "THERMAL_STATS": 1000,
        "OPTIMISATION_LIST": 1001, "THERMAL_THROTTLING_LEVEL": 1002}
    assert {o.name: o.value for o in mvnc.GraphOption} == {
        "ITERATIONS": 0, "NETWORK_THROTTLE": 1, "DONT_BLOCK": 2,
        "TIME_TAKEN": 1000, "DEBUG_INFO": 1001}


def test_ncsdk_1_09_option_names_are_aliases():
    assert mvnc.GlobalOption.LOGLEVEL is mvnc.GlobalOption.LOG_LEVEL
    assert mvnc.GraphOption.DONTBLOCK is mvnc.GraphOption.DONT_BLOCK
    assert mvnc.GraphOption.TIMETAKEN is mvnc.GraphOption.TIME_TAKEN
    assert mvnc.GraphOption.DEBUGINFO is mvnc.GraphOption.DEBUG_INFO
    assert mvnc.DeviceOption.THERMALSTATS is mvnc.DeviceOption.THERMAL_STATS
    assert (mvnc.DeviceOption.OPTIMISATIONLIST
            is mvnc.DeviceOption.OPTIMISATION_LIST)


def test_global_option_log_level(log_level):
    for level in (2, 1, 0):
        mvnc.SetGlobalOption(mvnc.GlobalOption.LOG_LEVEL, level)
        assert mvnc.GetGlobalOption(mvnc.GlobalOption.LOG_LEVEL) == level
    for call in (lambda: mvnc.SetGlobalOption(mvnc.GlobalOption.LOG_LEVEL, "2"),
                 lambda: mvnc.SetGlobalOption(0, 1),
                 lambda: mvnc.GetGlobalOption(mvnc.GraphOption.ITERATIONS)):
        assert status_of(call) == mvnc.Status.INVALID_PARAMETERS


def test_enumerate_open_close_reopen(devices):
    assert len(devices) == 3 and len(set(devices)) == 3
    assert all(isinstance(n, str) for n in devices)
    opened = [mvnc.Device(n) for n in devices]
    for d in opened:
        d.OpenDevice()
    for d in opened:
        d.CloseDevice()
    opened[0].OpenDevice()          # a closed device may be opened again
    opened[0].CloseDevice()


def test_device_opened_twice_is_busy(device):
    assert status_of(mvnc.Device(device.name).OpenDevice) == mvnc.Status.BUSY
    assert status_of(device.OpenDevice) == mvnc.Status.BUSY
    device.CloseDevice()
    assert status_of(device.CloseDevice) == mvnc.Status.INVALID_PARAMETERS


def test_unknown_device_is_not_found(devices):
    assert (status_of(mvnc.Device("emulated-ncs-3").OpenDevice)
            == mvnc.Status.DEVICE_NOT_FOUND)


def test_device_options_settable_ones(device):
    D = mvnc.DeviceOption
    for opt, value in ((D.TEMP_LIM_LOWER, 80.5), (D.TEMP_LIM_HIGHER, 90),
                       (D.BACKOFF_TIME_NORMAL, 5), (D.BACKOFF_TIME_HIGH, 50),
                       (D.BACKOFF_TIME_CRITICAL, 500),
                       (D.TEMPERATURE_DEBUG, 1)):
        device.SetDeviceOption(opt, value)
        got = device.GetDeviceOption(opt)
        assert got == value
        assert type(got) is (float if opt in (D.TEMP_LIM_LOWER,
                                              D.TEMP_LIM_HIGHER) else int)
    assert status_of(lambda: device.SetDeviceOption(
        D.BACKOFF_TIME_HIGH, 1.5)) == mvnc.Status.INVALID_PARAMETERS
    for read_only in (D.THERMAL_STATS, D.OPTIMISATION_LIST,
                      D.THERMAL_THROTTLING_LEVEL):
        assert status_of(lambda: device.SetDeviceOption(read_only, 1)) \
            == mvnc.Status.INVALID_PARAMETERS
    assert status_of(lambda: device.GetDeviceOption(
        mvnc.GraphOption.ITERATIONS)) == mvnc.Status.INVALID_PARAMETERS


def test_thermal_options_agree_with_the_limits(device):
    D = mvnc.DeviceOption
    stats = device.GetDeviceOption(D.THERMAL_STATS)
    assert isinstance(stats, numpy.ndarray) and stats.dtype == numpy.float32
    assert stats.size > 0
    lower = device.GetDeviceOption(D.TEMP_LIM_LOWER)
    assert stats.max() < lower          # the default limits: no throttling
    level = device.GetDeviceOption(D.THERMAL_THROTTLING_LEVEL)
    assert type(level) is int and level == 0
    device.SetDeviceOption(D.TEMP_LIM_LOWER, float(stats.max()) - 1)
    assert device.GetDeviceOption(D.THERMAL_THROTTLING_LEVEL) == 1
    device.SetDeviceOption(D.TEMP_LIM_HIGHER, float(stats.max()) - 0.5)
    assert device.GetDeviceOption(D.THERMAL_THROTTLING_LEVEL) == 2


def test_optimisation_list_is_strings(device):
    opts = device.GetDeviceOption(mvnc.DeviceOption.OPTIMISATION_LIST)
    assert isinstance(opts, list) and opts
    assert all(isinstance(s, str) for s in opts) and "CONV" in opts


def test_one_graph_per_device(device):
    graph = device.AllocateGraph(small_graph())
    assert status_of(lambda: device.AllocateGraph(small_graph())) \
        == mvnc.Status.BUSY
    graph.DeallocateGraph()
    device.AllocateGraph(small_graph()).DeallocateGraph()


def test_graph_options(device):
    G = mvnc.GraphOption
    graph = device.AllocateGraph(small_graph())
    assert [graph.GetGraphOption(o) for o in
            (G.ITERATIONS, G.NETWORK_THROTTLE, G.DONT_BLOCK)] == [1, 1, 0]
    assert graph.GetGraphOption(G.DEBUG_INFO) == ""
    before = graph.GetGraphOption(G.TIME_TAKEN)
    assert before.dtype == numpy.float32 and before.tolist() == [0, 0, 0]
    for opt, value in ((G.ITERATIONS, 4), (G.NETWORK_THROTTLE, 0),
                       (G.DONT_BLOCK, 1)):
        graph.SetGraphOption(opt, value)
        assert graph.GetGraphOption(opt) == value
    for bad in (lambda: graph.SetGraphOption(G.ITERATIONS, 0),
                lambda: graph.SetGraphOption(G.DONT_BLOCK, "yes"),
                lambda: graph.SetGraphOption(G.TIME_TAKEN, 1),
                lambda: graph.SetGraphOption(G.DEBUG_INFO, 1),
                lambda: graph.GetGraphOption(mvnc.DeviceOption.THERMAL_STATS)):
        assert status_of(bad) == mvnc.Status.INVALID_PARAMETERS


def test_iterations_runs_give_the_same_result(device):
    graph = device.AllocateGraph(small_graph())
    x = images(1)[0]
    graph.LoadTensor(x, None)
    once, _ = graph.GetResult()
    graph.SetGraphOption(mvnc.GraphOption.ITERATIONS, 5)
    graph.LoadTensor(x, None)
    again, _ = graph.GetResult()
    numpy.testing.assert_array_equal(again, once)
    t = graph.GetGraphOption(mvnc.GraphOption.TIME_TAKEN)
    assert t.shape == (3,) and (t > 0).all()


def test_load_tensor_get_result_types_and_user_object(device):
    graph = device.AllocateGraph(small_graph())
    token = object()
    graph.LoadTensor(images(1)[0], token)
    out, userobj = graph.GetResult()
    assert userobj is token
    assert isinstance(out, numpy.ndarray) and out.dtype == numpy.float16
    assert out.shape == (16,)
    assert abs(float(out.astype(numpy.float32).sum()) - 1) < 1e-2  # softmax


def test_load_tensor_refuses_what_is_not_a_tensor(device):
    graph = device.AllocateGraph(small_graph())
    for bad in (None, "image", [["a"]], numpy.zeros((12, 12, 8), object),
                numpy.zeros((12, 12, 8), numpy.float32)):
        assert status_of(lambda: graph.LoadTensor(bad, None)) \
            == mvnc.Status.INVALID_PARAMETERS
    assert graph.GetResult() == (None, None)


def test_dont_block_no_data_and_busy(device):
    """NCSDK 1.x's wrapper did not raise these two: BUSY made LoadTensor
    return False, NO_DATA made GetResult return (None, None)."""
    graph = device.AllocateGraph(small_graph())
    graph.SetGraphOption(mvnc.GraphOption.DONT_BLOCK, 1)
    assert graph.GetResult() == (None, None)
    ims = images(3)
    assert graph.LoadTensor(ims[0], 0) is True
    assert graph.LoadTensor(ims[1], 1) is True
    assert graph.LoadTensor(ims[2], 2) is False
    assert [graph.GetResult()[1] for _ in range(2)] == [0, 1]
    assert graph.GetResult() == (None, None)


def test_blocking_load_on_a_full_fifo_nobody_empties_times_out(
        device, monkeypatch):
    monkeypatch.setattr(impl, "FIFO_WAIT_S", 0.2)
    graph = device.AllocateGraph(small_graph())
    ims = images(3)
    graph.LoadTensor(ims[0], 0)
    graph.LoadTensor(ims[1], 1)
    assert status_of(lambda: graph.LoadTensor(ims[2], 2)) \
        == mvnc.Status.TIMEOUT
    assert [graph.GetResult()[1] for _ in range(2)] == [0, 1]


def test_blocking_producer_and_consumer_threads_on_one_graph(device):
    """A producer loads 12 inputs while a consumer collects (retrying on
    NO_DATA: nothing loaded yet): the producer waits on the full FIFO,
    results come in order with their user objects."""
    ims = images(12, seed=5)
    graph = device.AllocateGraph(small_graph())
    want = []
    for x in ims:
        graph.LoadTensor(x, None)
        want.append(graph.GetResult()[0])
    got, errors = [], []

    def consume():
        while len(got) < len(ims) and not errors:
            try:
                out, userobj = graph.GetResult()
            except Exception as e:      # noqa: BLE001 - reported below
                errors.append(e)
                break
            if out is None:             # NO_DATA: nothing loaded yet
                time.sleep(0.001)
            else:
                got.append((out, userobj))

    consumer = threading.Thread(target=consume)
    consumer.start()
    for i, x in enumerate(ims):
        graph.LoadTensor(x, i)
    consumer.join(30)
    assert not errors and not consumer.is_alive()
    assert [u for _, u in got] == list(range(len(ims)))
    for (out, _), ref in zip(got, want):
        numpy.testing.assert_array_equal(out, ref)


def test_deallocating_wakes_a_blocked_load_tensor(device):
    graph = device.AllocateGraph(small_graph())
    ims = images(3)
    graph.LoadTensor(ims[0], 0)
    graph.LoadTensor(ims[1], 1)
    outcome = []

    def third():
        try:
            graph.LoadTensor(ims[2], 2)
            outcome.append("loaded")
        except Exception as e:      # noqa: BLE001 - the status is the point
            outcome.append(e.args[0])

    t = threading.Thread(target=third)
    t.start()
    t.join(0.3)
    assert t.is_alive()                 # blocked on the full FIFO
    graph.DeallocateGraph()
    t.join(5)
    assert outcome == [mvnc.Status.INVALID_PARAMETERS]


def test_three_devices_from_three_threads(devices):
    """Each thread opens its own stick and runs 20 inferences; every result
    equals the single-threaded result of the same input."""
    blob, ims = small_graph(24), images(20, size=24, seed=7)
    ref_dev = mvnc.Device(devices[0])
    ref_dev.OpenDevice()
    ref_graph = ref_dev.AllocateGraph(blob)
    want = []
    for x in ims:
        ref_graph.LoadTensor(x, None)
        want.append(ref_graph.GetResult()[0])
    ref_graph.DeallocateGraph()
    ref_dev.CloseDevice()
    results, errors = {}, []
    start = threading.Barrier(len(devices))

    def app(name, offset):
        try:
            dev = mvnc.Device(name)
            dev.OpenDevice()
            graph = dev.AllocateGraph(blob)
            start.wait(10)
            order = ims[offset:] + ims[:offset]     # threads differ in input
            results[name] = []
            for i, x in enumerate(order):
                graph.LoadTensor(x, (name, i))
                out, userobj = graph.GetResult()
                assert userobj == (name, i)
                results[name].append(out)
            graph.DeallocateGraph()
            dev.CloseDevice()
        except Exception as e:      # noqa: BLE001 - reported below
            errors.append((name, repr(e)))

    threads = [threading.Thread(target=app, args=(n, 7 * k))
               for k, n in enumerate(devices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for k, name in enumerate(devices):
        order = want[7 * k:] + want[:7 * k]
        assert len(results[name]) == 20
        for out, ref in zip(results[name], order):
            numpy.testing.assert_array_equal(out, ref)


def test_blas_thread_count_is_steady_while_inferences_overlap(
        devices, monkeypatch):
    """Three inferences meet inside a stage: OpenBLAS's process-wide thread
    count (a fake here) is never changed from the configured 1 while another
    inference runs, and is restored to its old 7 at the end."""
    state = {"n": 7}
    inside, sets = set(), []

    def setter(n):
        sets.append((n, inside - {threading.get_ident()}))
        state["n"] = n

    monkeypatch.setattr(blas, "_API", (lambda: state["n"], setter))
    monkeypatch.setenv("MVNC_EMULATOR_BLAS_THREADS", "1")
    meet = threading.Barrier(len(devices))
    softmax = KERNELS[Op.SOFTMAX]

    def meeting_softmax(st, x, ctx):
        inside.add(threading.get_ident())
        meet.wait(10)
        assert state["n"] == 1
        return softmax(st, x, ctx)

    monkeypatch.setitem(KERNELS, Op.SOFTMAX, meeting_softmax)
    graphs = []
    for name in devices:
        dev = mvnc.Device(name)
        dev.OpenDevice()
        graphs.append(dev.AllocateGraph(small_graph()))
    errors = []

    def run(graph):
        try:
            graph.LoadTensor(images(1)[0], None)
            graph.GetResult()
        except Exception as e:      # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            inside.discard(threading.get_ident())

    threads = [threading.Thread(target=run, args=(g,)) for g in graphs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert state["n"] == 7
    assert all(n == 1 for n, others in sets if others)


def test_real_blas_thread_count_survives_threads(devices, monkeypatch):
    if blas._API is None:
        pytest.skip("numpy without its bundled OpenBLAS")
    get = blas._API[0]
    before = get()
    monkeypatch.setenv("MVNC_EMULATOR_BLAS_THREADS", str(before + 1))
    blob = small_graph(24)

    def run(name):
        dev = mvnc.Device(name)
        dev.OpenDevice()
        graph = dev.AllocateGraph(blob)
        for x in images(10, size=24):
            graph.LoadTensor(x, None)
            graph.GetResult()
        dev.CloseDevice()

    threads = [threading.Thread(target=run, args=(n,)) for n in devices]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert get() == before


def test_log_level_0_is_silent_1_says_why(device, log_level, capsys):
    mvnc.SetGlobalOption(mvnc.GlobalOption.LOG_LEVEL, 0)
    status_of(lambda: device.AllocateGraph(b"\0" * 300))
    assert capsys.readouterr().err == ""
    mvnc.SetGlobalOption(mvnc.GlobalOption.LOG_LEVEL, 1)
    status_of(lambda: device.AllocateGraph(b"\0" * 300))
    err = capsys.readouterr().err
    assert "UNSUPPORTED_GRAPH_FILE" in err and device.name in err
    device.AllocateGraph(small_graph()).DeallocateGraph()
    assert capsys.readouterr().err == ""        # verbose lines need 2


def test_log_level_2_reports_what_the_reader_let_pass(
        device, log_level, capsys, monkeypatch):
    real = impl.load_graph

    def with_warning(blob):
        graph = real(blob)
        graph.warnings = ["stage 0: an odd but harmless field"]
        return graph

    monkeypatch.setattr(impl, "load_graph", with_warning)
    mvnc.SetGlobalOption(mvnc.GlobalOption.LOG_LEVEL, 2)
    device.AllocateGraph(small_graph()).DeallocateGraph()
    err = capsys.readouterr().err
    assert "'threads' allocated: 3 stages" in err
    assert "accepted: stage 0: an odd but harmless field" in err
    mvnc.SetGlobalOption(mvnc.GlobalOption.LOG_LEVEL, 1)
    device.AllocateGraph(small_graph()).DeallocateGraph()
    assert "odd" not in capsys.readouterr().err


def test_run_once_takes_a_free_device(devices):
    from emulator.infer import run_once
    blob, x = small_graph(), images(1)[0]
    held = mvnc.Device(devices[0])
    held.OpenDevice()
    out, times = run_once(blob, x)
    assert out.dtype == numpy.float16 and times.shape == (3,)
    others = [mvnc.Device(n) for n in devices[1:]]
    for d in others:
        d.OpenDevice()
    assert status_of(lambda: run_once(blob, x)) == mvnc.Status.BUSY
