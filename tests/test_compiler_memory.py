"""The memory plan obeys the spec's "Memory" rules, checked on the file.

The checker below is written from docs/ncs-graph-format.md alone: it
recovers every work buffer from the stage records (pointers, dims and
strides) and replays the stages in file order. It does not use the planner.
"""
import numpy as np
import pytest

import ncsformat as nf
from compiler import compile_file, compile_graph, ir
from compiler.errors import CompileError
from compiler_helpers import Blob, freeze, write

R = np.random.default_rng(2)


def _hull(s):
    """[first, last) byte of the tensor a stage writes."""
    w, h, c = s.output_dims
    sx, sy, sz = s.output_strides
    lo = s.output.pointer
    return lo, lo + (h - 1) * sy + (w - 1) * sx + 2 * c


def _tensor_inputs(s):
    ins = [s.data.index]
    if s.op in (nf.Op.SUM, nf.Op.PROD, nf.Op.MAX):
        ins.append(s.taps.index)
    return [i for i in ins if i >= nf.Region.WORK]


def recover_buffers(stages):
    """index -> (tensor start, tensor end, guard) from the writers: the
    buffer starts at the lowest pointer written (channel 0) and holds H rows
    of outputStrideY bytes; W = strideY / strideX, C = strideX / 2."""
    bufs = {}
    for s in stages:
        k = s.output.index
        if k < nf.Region.WORK:
            continue
        sx, sy, _ = s.output_strides
        guard = 2 * (sy // sx + 1) * (sx // 2) * 2
        start = min(s.output.pointer, bufs.get(k, (s.output.pointer,))[0])
        bufs[k] = (start, start + s.output_dims[1] * sy, guard)
    return bufs


def check_memory_rules(blob, scratch_bytes):
    b = Blob(blob)
    st = b.stages
    bufs = recover_buffers(st)
    guarded = {k: (lo - g, hi + g) for k, (lo, hi, g) in bufs.items()}
    first_write = {}
    last_read = {}
    for i, s in enumerate(st):
        if s.output.index >= nf.Region.WORK:
            first_write.setdefault(s.output.index, i)
        for k in _tensor_inputs(s):
            last_read[k] = i
            assert k in first_write, f"stage {i} reads buffer {k} unwritten"

    def overlap(a, b):
        return a[0] < b[1] and b[0] < a[1]

    written = []
    for i, s in enumerate(st):
        k = s.output.index
        if k < nf.Region.WORK:
            continue
        lo, hi = _hull(s)
        g = bufs[k][2]
        wide = (lo - g, hi + g)
        written.append((lo, hi))
        for j in _tensor_inputs(s):
            assert j != k, f"stage {i} works in place on buffer {k}"
            assert not overlap(wide, guarded[j]), (i, "own input", j)
        for j in bufs:
            if j != k and first_write[j] < i and last_read.get(j, -1) > i:
                assert not overlap(wide, guarded[j]), (i, "live", j)
    guards = [(lo - g, lo) for lo, hi, g in bufs.values()] + \
             [(hi, hi + g) for lo, hi, g in bufs.values()]
    for w in written:
        for gb in guards:
            assert not overlap(w, gb), ("guard band written", w, gb)
    assert all(lo >= 0 and hi <= scratch_bytes for lo, hi in
               guarded.values())
    return bufs


def _inception_like():
    import tfcompat as tfc
    tf1 = tfc.tf1

    def conv(x, cout, k=1, stride=1, pad="SAME"):
        w = R.uniform(-0.5, 0.5, (k, k, x.shape[-1], cout)).astype(np.float32)
        return tf1.nn.relu(tf1.nn.conv2d(x, w, [1, stride, stride, 1], pad))

    def mixed(x, d):
        b0 = conv(x, d)
        b1 = conv(conv(x, d), d + 1, 3)
        b2 = conv(conv(conv(x, d), d, 3), d + 2, 3)
        b3 = conv(tf1.nn.avg_pool2d(x, 3, 1, "SAME"), d)
        return tf1.concat([b0, b1, b2, b3], 3)

    def build():
        x = tf1.placeholder(tf1.float32, [1, 15, 15, 3], name="input")
        n = conv(x, 8, 3, 2, "VALID")
        n = mixed(n, 4)
        n = mixed(n, 3)
        n = tf1.concat([tf1.nn.max_pool2d(n, 3, 2, "VALID"),
                        conv(n, 6, 3, 2, "VALID")], 3)
        n = mixed(n, 5)
        up = conv(n, int(n.shape[-1]))
        n = tf1.nn.relu(n + 0.2 * up)
        tf1.nn.softmax(tf1.reduce_mean(n, [1, 2]), name="out")
    pb, _ = freeze(build, "out")
    return pb


@pytest.fixture(scope="module")
def inception_pb():
    return _inception_like()


def test_concat_heavy_graph_obeys_memory_rules(tmp_path, inception_pb):
    result = compile_file(write(tmp_path, "net.pb", inception_pb))
    bufs = check_memory_rules(result.blob, result.scratch_bytes)
    stages = Blob(result.blob).stages
    # the 4 concats are layout only: 3 + 4 * 7 + 2 + 1 (residual) + mean
    # + softmax stages, no copies
    assert not any(s.name.endswith("/copy") for s in stages)
    # buffers are reused: the scratch area is smaller than all buffers
    # with their guard bands laid end to end
    total = sum(hi - lo + 2 * g for lo, hi, g in bufs.values())
    assert result.scratch_bytes < total
    assert sorted(bufs) == list(range(4, 4 + len(bufs)))


def test_checker_catches_a_broken_plan(tmp_path, inception_pb):
    """The checker is not vacuous: move one buffer onto a live one."""
    result = compile_file(write(tmp_path, "net.pb", inception_pb))
    b = Blob(result.blob)
    victim = next(i for i, s in enumerate(b.stages)
                  if s.output.index >= 4 and i > 3)
    raw = bytearray(result.blob)
    s = b.stages[victim]
    s.output.pointer = b.stages[victim].data.pointer
    s.output.index = b.stages[victim].data.index
    raw[264 + 227 * victim:264 + 227 * (victim + 1)] = s.pack()
    with pytest.raises(AssertionError):
        check_memory_rules(bytes(raw), result.scratch_bytes)


def N(name, op, inputs, shape, **attrs):
    return ir.Node(name, op, list(inputs), tuple(shape), attrs)


def _conv(name, src, cin, cout, hw=8):
    return N(name, "conv", [src], (1, hw, hw, cout),
             weights=R.standard_normal((1, 1, cin, cout)).astype(np.float32),
             stride=(1, 1), padding="SAME", pads=(0, 0))


def test_nested_concat_and_copies_obey_rules():
    nodes = [N("in", "input", [], (1, 8, 8, 3)),
             _conv("a", "in", 3, 2), _conv("b", "in", 3, 3),
             N("inner", "concat", ["a", "b"], (1, 8, 8, 5)),
             _conv("c", "in", 3, 4),
             N("outer", "concat", ["inner", "c", "in"], (1, 8, 8, 12)),
             _conv("d", "outer", 12, 2),
             N("sum", "add", ["d", "a"], (1, 8, 8, 2))]
    res = compile_graph(ir.Graph(nodes, "in", "sum"))
    check_memory_rules(res.blob, res.scratch_bytes)
    stages = Blob(res.blob).stages
    names = [s.name for s in stages]
    # the inner concat resolves into the outer buffer: a, b and c write
    # slices of one buffer; 'in' (network input) is copied (1x1 max pool)
    # into its slice; the eltwise operand 'a' (a slice) is copied out
    a, b, c = (stages[names.index(n)] for n in "abc")
    assert a.output.index == b.output.index == c.output.index
    assert b.output.pointer == a.output.pointer + 4
    assert c.output.pointer == a.output.pointer + 10
    copies = [s for s in stages if "/copy" in s.name]
    assert len(copies) == 2
    for s in copies:
        assert (s.op, s.radix, s.stride, s.pad_style) == (nf.Op.MAX_POOL,
                                                          (1, 1), (1, 1), 1)


def test_conflicting_concats_obey_rules():
    """Duplicate members and a stage reading the buffer it writes into."""
    nodes = [N("in", "input", [], (1, 8, 8, 3)),
             _conv("a", "in", 3, 2), _conv("b", "in", 3, 3),
             N("inner", "concat", ["a", "b"], (1, 8, 8, 5)),
             _conv("c", "inner", 5, 4),
             N("outer", "concat", ["inner", "c", "in", "a"], (1, 8, 8, 14)),
             _conv("d", "outer", 14, 2)]
    res = compile_graph(ir.Graph(nodes, "in", "d"))
    check_memory_rules(res.blob, res.scratch_bytes)


def test_scratch_over_100_mib_is_error_35():
    nodes = [N("in", "input", [], (1, 1024, 1024, 3)),
             _conv("a", "in", 3, 64, 1024), _conv("b", "a", 64, 3, 1024)]
    with pytest.raises(CompileError) as e:
        compile_graph(ir.Graph(nodes, "in", "b"))
    assert e.value.number == 35
    assert "Not enough resources on Myriad to process this network" in \
        str(e.value)


def test_slice_views_into_concat_buffers_obey_rules():
    """A slice of a concat member, and a slice of that slice, are read in
    place: the root buffer's pointer plus 2 bytes per channel before them,
    with its strides; the buffer lives until the last view is read. A
    slice that must be a stage (here, a concat member) is an op 19 copy."""
    nodes = [N("in", "input", [], (1, 8, 8, 3)),
             _conv("a", "in", 3, 4), _conv("b", "in", 3, 6),
             N("cat", "concat", ["a", "b"], (1, 8, 8, 10)),
             N("s1", "slice", ["b"], (1, 8, 8, 4), first=1),
             N("s2", "slice", ["s1"], (1, 8, 8, 2), first=2),
             _conv("c", "s2", 2, 3),
             _conv("d", "cat", 10, 3),
             N("s3", "slice", ["a"], (1, 8, 8, 3), first=1),
             N("cat2", "concat", ["c", "d", "s3"], (1, 8, 8, 9)),
             _conv("e", "cat2", 9, 2)]
    res = compile_graph(ir.Graph(nodes, "in", "e"))
    check_memory_rules(res.blob, res.scratch_bytes)
    stages = {s.name: s for s in Blob(res.blob).stages}
    a, c, cp = stages["a"], stages["c"], stages["s3"]
    assert c.data.index == a.output.index
    assert c.data.pointer == a.output.pointer + 2 * (4 + 1 + 2)
    assert c.input_strides == a.output_strides == (20, 160, 2)
    assert c.input_dims == (8, 8, 2)
    assert (cp.op, cp.input_dims, cp.output_dims) == (
        nf.Op.COPY, (8, 8, 10), (8, 8, 3))
    assert cp.data.pointer == a.output.pointer + 2
    assert "s1" not in stages and "s2" not in stages
    # and the emulated stick computes it: numpy on the same fp16 input
    from emulator.executor import Executor
    from emulator.reader import load_graph
    x = R.uniform(-1, 1, (8, 8, 3)).astype(np.float16)
    out = Executor(load_graph(res.blob), debug=True).run(x.tobytes())
    w = {n.name: n.attrs["weights"][0, 0] for n in nodes if n.op == "conv"}
    xf = x.astype(np.float32)
    a, b = xf @ w["a"], xf @ w["b"]
    d = np.concatenate([a, b], -1) @ w["d"]
    cat2 = np.concatenate([b[..., 3:5] @ w["c"], d, a[..., 1:4]], -1)
    np.testing.assert_allclose(out.astype(np.float32).reshape(8, 8, 2),
                               cat2 @ w["e"], atol=0.05, rtol=0.01)
