"""Hostile files, from a fixed seed: the compiler and the emulated stick refuse
them cleanly, never with another exception, never hanging, never leaving a
partial output file.

Inputs start from one small valid frozen GraphDef (made with TensorFlow once
per session) and the graph file our compiler makes of it. Compiler cases:
bit flips, truncations and structural mutations of the GraphDef (absurd
shapes, attrs of the wrong kind or value, broken inputs, tensor contents of
the wrong length, unknown ops, ...): `compiler.compile_file` either compiles
(and then the emulator must accept what it wrote) or raises CompileError; a
sample goes through the `mvNCCompile` command line: exit 2, one
`[Error N] ...` line on stderr, no traceback, no output file. Graph-file
cases: bit flips, truncations, wrong version, wrong size field, extra bytes,
out-of-range pointers, dims and strides, header counts, more than 64 Mi
output values, garbage: `emulator.reader.load_graph` raises GraphFileError
with UNSUPPORTED_GRAPH_FILE or INVALID_PARAMETERS, or the graph loads and
runs; `mvncapi.Device.AllocateGraph` raises Exception(Status.X). Categories
whose every case is malformed must be refused, not just survived.
"""
import contextlib
import random
import re
import signal
import struct
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import ncsformat as nf
import pipeline_helpers as h

SEED = 20261128
CASE_SECONDS = 10
REFUSALS = {"UNSUPPORTED_GRAPH_FILE", "INVALID_PARAMETERS"}
ERROR_LINE = re.compile(r"^\[Error \d+\] Toolkit Error: .+$")
REPORT = {}   # category -> Counter of outcomes; printed at the end


class CaseTimeout(BaseException):
    """Raised by the per-case alarm; a BaseException so no handler eats it."""


@contextlib.contextmanager
def time_limit(seconds=CASE_SECONDS):
    def ring(signum, frame):
        raise CaseTimeout()
    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _tally(category, outcome):
    REPORT.setdefault(category, Counter())[outcome] += 1


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    return h.small_frozen_graph(tmp_path_factory).read_bytes()


@pytest.fixture(scope="module")
def blob(frozen, tmp_path_factory):
    import compiler
    path = tmp_path_factory.mktemp("fuzz-src") / "small.pb"
    path.write_bytes(frozen)
    result = compiler.compile_file(str(path), shaves=1, input_node="input",
                                   output_node="output")
    return bytes(result.blob)


# -- GraphDef mutations -------------------------------------------------------

ABSURD = [0, -1, -7, 1, 3, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 40, 10 ** 12]


def _bitflip(data, rng):
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def _truncate(data, rng):
    return data[:rng.randrange(len(data))]


def _pick(graph, rng, pred=lambda n: True):
    nodes = [n for n in graph.node if pred(n)]
    return rng.choice(nodes) if nodes else None


def _m_const_shape(g, rng):
    n = _pick(g, rng, lambda n: n.op == "Const")
    shape = n.attr["value"].tensor.tensor_shape
    del shape.dim[:]
    for _ in range(rng.randint(0, 6)):
        shape.dim.add(size=rng.choice(ABSURD))


def _m_placeholder(g, rng):
    n = _pick(g, rng, lambda n: n.op == "Placeholder")
    shape = n.attr["shape"].shape
    del shape.dim[:]
    for _ in range(rng.choice([0, 1, 3, 4, 5, 9])):
        shape.dim.add(size=rng.choice(ABSURD))
    if rng.random() < 0.2:
        shape.unknown_rank = True


def _m_content(g, rng):
    t = _pick(g, rng, lambda n: n.op == "Const").attr["value"].tensor
    c = t.tensor_content
    t.tensor_content = rng.choice([c[:rng.randrange(len(c) + 1)],
                                   c + bytes(rng.randrange(1, 64)), b"", b"\x00"])


def _m_dtype(g, rng):
    n = _pick(g, rng, lambda n: "T" in n.attr or "dtype" in n.attr)
    key = "T" if "T" in n.attr else "dtype"
    n.attr[key].type = rng.choice([0, 2, 3, 7, 9, 10, 19, 23, 99, 1000])
    if n.op == "Const" and rng.random() < 0.5:
        n.attr["value"].tensor.dtype = n.attr[key].type


def _m_int_list(g, rng):
    n = _pick(g, rng, lambda n: "strides" in n.attr or "ksize" in n.attr)
    key = rng.choice([k for k in ("strides", "ksize") if k in n.attr])
    lst = n.attr[key].list
    del lst.i[:]
    for _ in range(rng.choice([0, 1, 2, 4, 4, 4, 6])):
        lst.i.append(rng.choice(ABSURD))


def _m_attr_kind(g, rng):
    n = _pick(g, rng, lambda n: len(n.attr) > 0)
    key = rng.choice(sorted(n.attr))
    v = n.attr[key]
    kind = rng.randrange(5)
    if kind == 0:
        v.s = b"\xff\xfe garbage"
    elif kind == 1:
        v.i = rng.choice(ABSURD)
    elif kind == 2:
        v.f = rng.choice([float("nan"), float("inf"), -1e30, 0.0])
    elif kind == 3:
        v.b = True
    else:
        v.Clear()


def _m_padding(g, rng):
    n = _pick(g, rng, lambda n: "padding" in n.attr or "data_format" in n.attr)
    key = rng.choice([k for k in ("padding", "data_format") if k in n.attr])
    n.attr[key].s = rng.choice([b"", b"BOGUS", b"NCHW", b"EXPLICIT", b"\x00",
                                b"SAME" * 50])


def _m_inputs(g, rng):
    n = _pick(g, rng, lambda n: len(n.input) > 0)
    i = rng.randrange(len(n.input))
    n.input[i] = rng.choice([n.name, "no/such/node", n.input[i] + ":99",
                             "^" + n.input[i], "", g.node[-1].name])


def _m_remove(g, rng):
    del g.node[rng.randrange(len(g.node))]


def _m_duplicate(g, rng):
    a, b = rng.sample(range(len(g.node)), 2)
    g.node[a].name = g.node[b].name


def _m_op(g, rng):
    n = _pick(g, rng, lambda n: n.op not in ("Placeholder",))
    n.op = rng.choice(["Conv2D", "MatMul", "Reshape", "Softmax", "Pad",
                       "ConcatV2", "Mean", "FusedBatchNormV3", "LRN", "Squeeze",
                       "Add", "BiasAdd", "NoSuchOp", "Placeholder", "Const", ""])


def _m_reshape_shape(g, rng):
    n = _pick(g, rng, lambda n: n.op == "Const" and n.attr["value"].tensor.dtype == 3)
    t = n.attr["value"].tensor
    vals = [rng.choice(ABSURD[:7]) for _ in range(rng.randint(0, 5))]
    t.tensor_content = np.asarray(vals, "<i4").tobytes()
    del t.tensor_shape.dim[:]
    t.tensor_shape.dim.add(size=len(vals))


MUTATORS = [_m_const_shape, _m_placeholder, _m_content, _m_dtype, _m_int_list,
            _m_attr_kind, _m_padding, _m_inputs, _m_remove, _m_duplicate, _m_op,
            _m_reshape_shape]


def _structured(data, rng):
    from compiler.frontends import tf_proto
    g = tf_proto.GraphDef()
    g.ParseFromString(data)
    done = 0
    while done < rng.randint(1, 3):
        try:   # a mutator may find nothing to change after an earlier one
            rng.choice(MUTATORS)(g, rng)
            done += 1
        except (AttributeError, ValueError, IndexError, TypeError):
            pass
    return g.SerializeToString()


def graphdef_cases(frozen):
    """(category, bytes) for every compiler case, in a fixed order."""
    rng = random.Random(SEED)
    cases = [("graphdef_bitflip", _bitflip(frozen, rng)) for _ in range(250)]
    cases += [("graphdef_truncate", _truncate(frozen, rng)) for _ in range(120)]
    cases += [("graphdef_structured", _structured(frozen, rng)) for _ in range(400)]
    cases += [("graphdef_garbage", rng.randbytes(rng.randrange(0, 2000)))
              for _ in range(30)]
    return cases


def _compile_outcome(path):
    """'compiled', 'Error N', or an unexpected failure (raises)."""
    import compiler
    try:
        with time_limit():
            result = compiler.compile_file(str(path), shaves=rng_shaves(path),
                                           input_node="input",
                                           output_node="output")
    except compiler.CompileError as exc:
        assert ERROR_LINE.match(str(exc)) and "\n" not in str(exc), str(exc)
        return f"Error {exc.number}", None
    return "compiled", result


def rng_shaves(path):
    return 1 + sum(path.name.encode()) % 12


def test_compiler_refuses_mutated_graphdefs(frozen, tmp_path):
    """compile_file: CompileError or a graph the emulator accepts; never
    anything else, never over the per-case limit."""
    from emulator.reader import load_graph
    from compiler import write_graph
    unexpected = []
    for i, (cat, data) in enumerate(graphdef_cases(frozen)):
        path = tmp_path / f"case{i}.pb"
        path.write_bytes(data)
        try:
            outcome, result = _compile_outcome(path)
            if result is not None:
                out = tmp_path / f"case{i}.graph"
                write_graph(result, str(out))
                with time_limit():
                    load_graph(out.read_bytes())
                out.unlink()
        except CaseTimeout:
            outcome = "TIMEOUT"
            unexpected.append((i, cat, "over the time limit"))
        except Exception as exc:   # anything else is a bug
            outcome = f"UNEXPECTED {type(exc).__name__}"
            unexpected.append((i, cat, f"{type(exc).__name__}: {exc}"[:300]))
        _tally(cat, outcome)
        path.unlink()
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert unexpected == [], unexpected[:20]
    assert leftovers == []
    total = sum(sum(c.values()) for k, c in REPORT.items() if k.startswith("graphdef"))
    assert total >= 800


def test_mvnccompile_cli_sample(frozen, tmp_path):
    """A sample of the cases through the command line: exit 2 with exactly one
    `[Error N] ...` line and no output file, or exit 0 with a whole file."""
    cases = graphdef_cases(frozen)
    sample = random.Random(SEED + 1).sample(range(len(cases)), 24)
    bad = []
    for i in sample:
        cat, data = cases[i]
        case_dir = tmp_path / f"case{i}"
        case_dir.mkdir()
        (case_dir / "net.pb").write_bytes(data)
        proc = subprocess.run([h.tool("mvNCCompile"), "net.pb", "-s", "4",
                               "-in", "input", "-on", "output", "-o", "out.graph"],
                              cwd=case_dir, capture_output=True, text=True,
                              timeout=60, env=h.pipeline_env(tmp_path))
        files = sorted(p.name for p in case_dir.iterdir())
        lines = proc.stderr.strip().splitlines()
        if proc.returncode == 2:
            ok = (len(lines) == 1 and ERROR_LINE.match(lines[0])
                  and files == ["net.pb"])
        else:
            ok = proc.returncode == 0 and files == ["net.pb", "out.graph"] \
                and "Traceback" not in proc.stderr
        _tally("cli_" + cat, f"exit {proc.returncode}")
        if not ok or "Traceback" in proc.stderr + proc.stdout:
            bad.append((i, cat, proc.returncode, files, proc.stderr[-500:]))
    assert bad == [], bad


# -- graph-file mutations -----------------------------------------------------

def _stages(blob):
    n = nf.Header.unpack(blob).stage_count
    return [nf.Stage.unpack(blob, nf.HEADER_LENGTH + i * nf.STAGE_LENGTH)
            for i in range(n)]


def _with_stage(blob, i, stage):
    off = nf.HEADER_LENGTH + i * nf.STAGE_LENGTH
    return blob[:off] + stage.pack() + blob[off + nf.STAGE_LENGTH:]


def _u32(blob, offset, value):
    return blob[:offset] + struct.pack("<I", value) + blob[offset + 4:]


def _set_version(blob, rng):
    return _u32(blob, nf.VERSION_OFFSET,
                rng.choice([0, 1, 3, 4, 255, 2 ** 31, 2 ** 32 - 1]))


def _set_size(blob, rng):
    size = len(blob)
    wrong = rng.choice([0, 1, size - 1, size + 1, size * 2, 2 ** 32 - 1,
                        rng.randrange(2 ** 32)])
    if wrong == size:
        wrong += 1
    return _u32(blob, nf.VERSION_OFFSET - 4, wrong)


def _extend(blob, rng):
    return blob + rng.randbytes(rng.randint(1, 300))


def _data_pointer_oob(blob, rng):
    """An operand in the data section pointed past its end (64-aligned)."""
    stages = _stages(blob)
    data_len = len(blob) - nf.Header.unpack(blob).data_start
    choices = [(i, f) for i, s in enumerate(stages)
               for f in ("taps", "bias") if getattr(s, f).index == nf.Region.DATA]
    i, f = rng.choice(choices)
    s = stages[i]
    getattr(s, f).pointer = nf.align(data_len) + 64 * rng.randrange(0, 2 ** 20)
    return _with_stage(blob, i, s)


def _pointer(blob, rng):
    stages = _stages(blob)
    i = rng.randrange(len(stages))
    s = stages[i]
    op = rng.choice(s.operands())
    if rng.random() < 0.3:
        op.index = rng.choice([0, 1, 2, 3, 4, 5, 9, 255, 65535])
    op.pointer = rng.choice([1, 3, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1,
                             rng.randrange(2 ** 32), rng.randrange(0, 4096, 2)])
    return _with_stage(blob, i, s)


def _dims(blob, rng):
    stages = _stages(blob)
    i = rng.randrange(len(stages))
    s = stages[i]
    field = rng.choice(["input_dims", "tap_dims", "output_dims", "input_strides",
                        "tap_strides", "output_strides"])
    vals = list(getattr(s, field))
    vals[rng.randrange(3)] = rng.choice([0, 1, 2, 3, 2 ** 16, 2 ** 31,
                                         2 ** 32 - 1, rng.randrange(2 ** 32)])
    setattr(s, field, tuple(vals))
    return _with_stage(blob, i, s)


def _huge_output(blob, rng):
    """The last stage writes more than 64 Mi fp16 values (strides consistent)."""
    stages = _stages(blob)
    s = stages[-1]
    c = rng.choice([1, 2, 10, 1000])
    w = rng.choice([8192, 65536, 2 ** 20])
    hgt = (nf.MAX_OUTPUT_VALUES // (w * c)) + rng.randint(1, 50)
    s.output_dims = (w, hgt, c)
    s.output_strides = (2 * c, 2 * c * w, 2)
    if rng.random() < 0.5:    # the input agrees too (a same-shape stage)
        s.input_dims, s.input_strides = s.output_dims, s.output_strides
    return _with_stage(blob, len(stages) - 1, s)


def _counts(blob, rng):
    off = nf.N_STAGES_OFFSET
    field = rng.choice([0, 4])   # stage count, data start
    return _u32(blob, off + field, rng.choice([0, 1, 2, 6, 8, 9, 1000, 65535,
                                               2 ** 32 - 1, rng.randrange(2 ** 32)]))


def _garbage_after_header(blob, rng):
    return blob[:nf.HEADER_LENGTH] + rng.randbytes(len(blob) - nf.HEADER_LENGTH)


# category -> (generator, cases, must every case be refused?)
GRAPH_CATEGORIES = {
    "graph_bitflip": (_bitflip, 300, False),
    "graph_truncate": (_truncate, 150, True),
    "graph_version": (_set_version, 40, True),
    "graph_size_field": (_set_size, 60, True),
    "graph_extra_bytes": (_extend, 40, True),
    "graph_data_pointer_out_of_range": (_data_pointer_oob, 60, True),
    "graph_pointer": (_pointer, 200, False),
    "graph_dims_strides": (_dims, 200, False),
    "graph_over_64Mi_outputs": (_huge_output, 40, True),
    "graph_header_counts": (_counts, 60, False),
    "graph_garbage_after_header": (_garbage_after_header, 40, False),
}


def graph_cases(blob):
    rng = random.Random(SEED + 2)
    for cat, (gen, n, must_refuse) in GRAPH_CATEGORIES.items():
        for _ in range(n):
            yield cat, gen(blob, rng), must_refuse


@pytest.fixture
def device():
    from emulator import mvncapi as mvnc
    dev = mvnc.Device(mvnc.EnumerateDevices()[0])
    dev.OpenDevice()
    yield dev
    dev.CloseDevice()


def _status_name(exc):
    from emulator import Status
    arg = exc.args[0] if exc.args else None
    return arg.name if isinstance(arg, Status) else None


def _one_graph_case(device, data):
    """The outcome of the reader and of the API on one file."""
    from emulator.reader import GraphFileError, load_graph
    try:
        load_graph(data)
        reader = "accepted"
    except GraphFileError as exc:
        reader = exc.status.name
    try:
        graph = device.AllocateGraph(data)
    except Exception as exc:   # NCSDK style: Exception(Status.X)
        status = _status_name(exc)
        if status is None or type(exc) is not Exception:
            raise
        assert status == reader, (status, reader)
        return reader
    assert reader == "accepted"
    try:   # a file that loads must also run (or refuse the input) cleanly
        graph.LoadTensor(np.zeros((16, 16, 3), np.float16), "fuzz")
        graph.GetResult()
        return "accepted, ran"
    except Exception as exc:
        status = _status_name(exc)
        if status is None or type(exc) is not Exception:
            raise
        return f"accepted, run refused {status}"
    finally:
        graph.DeallocateGraph()


def test_emulator_refuses_malformed_graph_files(blob, device):
    unexpected, counted = [], Counter()
    for i, (cat, data, must_refuse) in enumerate(graph_cases(blob)):
        counted[cat] += 1
        try:
            with time_limit():
                outcome = _one_graph_case(device, data)
        except CaseTimeout:
            outcome = "TIMEOUT"
        except Exception as exc:
            outcome = f"UNEXPECTED {type(exc).__name__}: {exc}"[:200]
        _tally(cat, outcome.split(":")[0])
        refused = outcome in REFUSALS
        if outcome.startswith(("TIMEOUT", "UNEXPECTED")) or (must_refuse and not refused):
            unexpected.append((i, cat, outcome))
    assert unexpected == [], unexpected[:20]
    assert counted == {c: n for c, (_g, n, _m) in GRAPH_CATEGORIES.items()}


def test_valid_graph_still_loads_and_runs(blob, device):
    """The unmutated file is accepted: the refusals above are not blanket."""
    assert _one_graph_case(device, blob) == "accepted, ran"


@pytest.fixture(scope="module", autouse=True)
def report():
    """Print cases per category and outcome when the module ends (-s, CI log)."""
    yield
    total = 0
    for cat in sorted(REPORT):
        n = sum(REPORT[cat].values())
        total += n
        print(f"\n{cat:36s} {n:5d}  {dict(REPORT[cat])}", end="")
    print(f"\n{'total':36s} {total:5d}")
