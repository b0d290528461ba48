"""Compile-time evaluation (compiler.frontends.tf_fold) against TensorFlow
evaluating the very same nodes: every folded op, StridedSlice with every
mask, shapes of tensors (batch taken as 1), and the errors."""
import subprocess
import sys

import numpy as np
import pytest

from compiler.errors import CompileError
from compiler.frontends.tf_fold import FOLDERS
from compiler.frontends.tf_graphdef import graphdef_to_ir, known_values
from compiler.frontends.tf_graphdef import parse_graphdef
from tfcompat import tf, tf1

raw = tf.raw_ops
A = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6) - 50.0
I = np.array([[7, -7, 3], [-9, 4, 0]], np.int32)

SLICES = {   # name: (begin, end, strides, masks)
    "plain": ([1, 0, 2], [3, 5, 6], [1, 2, 2], {}),
    "negative_strides": ([3, 4, 5], [0, 0, 0], [-1, -2, -1], {}),
    "begin_end_masks": ([2, 1, 9], [0, 3, 1], [1, 1, -2],
                        {"begin_mask": 0b101, "end_mask": 0b010}),
    "clamped": ([-10, 2, -100], [10, 100, 100], [1, 1, 3], {}),
    "ellipsis": ([0, 1], [0, 3], [1, 1], {"ellipsis_mask": 1}),
    "ellipsis_middle": ([1, 0, 2], [2, 0, 4], [1, 1, 1],
                        {"ellipsis_mask": 0b010}),
    "new_axis": ([0, 0, 1], [0, 0, 3], [1, 1, 1], {"new_axis_mask": 0b010}),
    "shrink_last": ([-1, 0], [0, 0], [1, 1],
                    {"shrink_axis_mask": 1, "end_mask": 2}),
    "shrink_ellipsis": ([0, 2], [0, 3], [1, 1],
                        {"ellipsis_mask": 1, "shrink_axis_mask": 2}),
    "new_and_shrink": ([0, 1], [1, 2], [1, 1],
                       {"new_axis_mask": 1, "shrink_axis_mask": 3}),
    "all_masks": ([0, 0, 1, 3], [0, 0, 4, 0], [1, 1, 1, -1],
                  {"begin_mask": 0b0001, "end_mask": 0b1000,
                   "ellipsis_mask": 0b0010, "new_axis_mask": 0b0001,
                   "shrink_axis_mask": 0b0100}),
}


def _cases():
    """Build the nodes under test in the default graph: name -> tensor."""
    a, i = tf1.constant(A), tf1.constant(I)
    x = tf1.placeholder(tf1.float32, [None, 6, 7, 3], name="input")
    t = {}
    for name, (b, e, s, masks) in SLICES.items():
        t["ss_" + name] = raw.StridedSlice(input=a, begin=b, end=e,
                                           strides=s, name="ss_" + name,
                                           **masks)
    shp = tf1.shape(x, name="shape")
    t["shape"] = shp
    t["shape_int64"] = tf1.shape(x, out_type=tf1.int64, name="shape_int64")
    t["size"] = tf1.size(x, name="size")
    t["rank"] = raw.Rank(input=x, name="rank")
    t["shape_n"] = raw.ShapeN(input=[x, a], name="shape_n")[1]
    t["shape_tail"] = tf1.identity(shp[1:], name="shape_tail")
    t["batch"] = tf1.identity(shp[0], name="batch")
    t["flat"] = tf1.reduce_prod(shp[1:], name="flat")
    t["stack"] = tf1.stack([shp[0], -1], name="stack")
    t["slice"] = tf1.slice(a, [1, 2, 0], [2, -1, 3], name="slice")
    t["pack_neg"] = tf1.stack([i, i * 2], axis=-1, name="pack_neg")
    t["unpack"] = tf1.unstack(a, axis=1, name="unpack")[3]
    t["concat"] = tf1.concat([a, a[:, :2]], axis=-2, name="concat")
    t["concat_v1"] = raw.Concat(concat_dim=0, values=[i, i], name="concat_v1")
    t["gather"] = raw.Gather(params=a, indices=[[3, 0], [1, 1]],
                             name="gather")
    t["gather_v2"] = tf1.gather(a, [4, 0, 2], axis=1, name="gather_v2")
    t["gather_neg_axis"] = tf1.gather(a, [1], axis=-1, name="gather_neg_axis")
    t["prod_keep"] = tf1.reduce_prod(i, axis=[1], keepdims=True,
                                     name="prod_keep")
    t["sum_neg"] = tf1.reduce_sum(a, axis=[-1, 0], name="sum_neg")
    t["max"] = tf1.reduce_max(a, axis=1, name="max")
    t["min_all"] = tf1.reduce_min(i, name="min_all")
    b = tf1.constant(np.array([2, -3, 5], np.int32))
    t["add"] = raw.Add(x=i, y=b, name="add")
    t["addv2"] = raw.AddV2(x=a, y=np.float32(0.5), name="addv2")
    t["sub"] = tf1.subtract(i, b, name="sub")
    t["mul"] = tf1.multiply(a, a[0], name="mul")
    t["realdiv"] = tf1.realdiv(a, np.float32(7), name="realdiv")
    t["div_int"] = raw.Div(x=i, y=b, name="div_int")
    t["floordiv"] = tf1.floordiv(i, b, name="floordiv")
    t["floormod"] = tf1.floormod(i, b, name="floormod")
    t["maximum"] = tf1.maximum(i, 0, name="maximum")
    t["minimum"] = tf1.minimum(a, -1.5, name="minimum")
    t["pow"] = tf1.pow(i, 2, name="pow")
    t["squared_difference"] = tf1.squared_difference(a, 3.0,
                                                     name="squared_difference")
    v = tf1.constant(np.array([0.25, 2.0, 9.0], np.float32))
    for op in ("Rsqrt", "Sqrt", "Reciprocal", "Neg", "Abs", "Square", "Exp",
               "Log"):
        t[op.lower()] = getattr(raw, op)(x=v if op != "Neg" else -v,
                                         name=op.lower())
    t["cast_trunc"] = tf1.cast(a / 7, tf1.int32, name="cast_trunc")
    t["cast_bool"] = tf1.cast(i, tf1.bool, name="cast_bool")
    t["cast_float"] = tf1.cast(i, tf1.float32, name="cast_float")
    t["fill"] = tf1.fill(tf1.stack([2, shp[1]]), 3.5, name="fill")
    t["range"] = tf1.range(2, 17, 4, name="range")
    t["range_down"] = tf1.range(5, -6, -3, name="range_down")
    t["range_float"] = tf1.range(0.5, 2.0, 0.25, name="range_float")
    t["zeros_like"] = raw.ZerosLike(x=i, name="zeros_like")
    t["ones_like"] = raw.OnesLike(x=a, name="ones_like")
    t["stop_gradient"] = raw.PreventGradient(
        input=tf1.stop_gradient(i), name="stop_gradient")
    t["expand_neg"] = tf1.expand_dims(i, -1, name="expand_neg")
    t["squeeze_dims"] = tf1.squeeze(tf1.reshape(a, [1, 4, 1, 30]), [2],
                                    name="squeeze_dims")
    t["squeeze_all"] = tf1.squeeze(tf1.reshape(a, [1, 4, 1, 30]),
                                   name="squeeze_all")
    t["reshape_minus1"] = tf1.reshape(a, [-1, 10], name="reshape_minus1")
    t["transpose"] = tf1.transpose(a, [2, 0, 1], name="transpose")
    t["identity_n"] = tf1.identity_n([i, a], name="identity_n")[1]
    t["snapshot"] = raw.Snapshot(input=i, name="snapshot")
    return t


@pytest.fixture(scope="module")
def evaluated():
    """(TensorFlow's values, ours) of every case, keyed by case name."""
    graph = tf.Graph()
    with graph.as_default():
        cases = _cases()
        with tf1.Session(graph=graph) as sess:
            feed = {"input:0": np.zeros((1, 6, 7, 3), np.float32)}
            theirs = sess.run(cases, feed)
        gd = parse_graphdef(graph.as_graph_def().SerializeToString())
    names = {k: v.name.replace(":0", "") for k, v in cases.items()}
    ours = known_values(gd, list(names.values()))
    return theirs, {k: ours.get(n) for k, n in names.items()}


def test_every_case_is_folded_like_tensorflow(evaluated):
    theirs, ours = evaluated
    assert set(ours) == set(theirs)
    for name, expected in theirs.items():
        got = ours[name]
        assert got is not None, f"{name} not folded"
        expected = np.asarray(expected)
        assert got.dtype == expected.dtype, name
        assert got.shape == expected.shape, name
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(got, expected, rtol=1e-6,
                                       err_msg=name)
        else:
            np.testing.assert_array_equal(got, expected, err_msg=name)


def test_the_cases_cover_the_table(evaluated):
    graph = tf.Graph()
    with graph.as_default():
        _cases()
        ops = {n.op for n in graph.as_graph_def().node}
    assert set(FOLDERS) <= ops


def _pb(build):
    graph = tf.Graph()
    with graph.as_default():
        build()
    return parse_graphdef(graph.as_graph_def().SerializeToString())


def _error(build):
    with pytest.raises(CompileError) as e:
        graphdef_to_ir(_pb(build), output_node="out")
    return e.value


def test_data_dependent_shape_is_error_5_naming_the_node():
    def build():
        x = tf1.placeholder(tf1.float32, [1, 4, 4, 3], name="input")
        y = tf1.nn.relu(x)
        found = tf1.where(y > 1.0)
        n = tf1.shape(found, name="count_shape")[0]
        tf1.reshape(y, tf1.stack([n, -1]), name="out")
    e = _error(build)
    assert e.number == 5 and "count_shape" in str(e)


@pytest.mark.parametrize("make,fragment", [
    (lambda a: tf1.fill([1 << 20, 1 << 20], 1.0, name="huge"), "huge"),
    (lambda a: tf1.range(0, 1 << 30, name="huge"), "huge"),
    (lambda a: tf1.gather(a, [9], name="bad_index"), "bad_index"),
    (lambda a: tf1.floordiv(tf1.constant([3]), tf1.constant([0]),
                            name="by_zero"), "by_zero"),
])
def test_what_tensorflow_refuses_or_is_too_large_is_error_5(make, fragment):
    def build():
        x = tf1.placeholder(tf1.float32, [1, 2, 2, 3], name="input")
        c = tf1.cast(tf1.reduce_sum(make(tf1.constant(A[0]))), tf1.float32)
        tf1.add(x, c, name="out")
    e = _error(build)
    assert e.number == 5 and fragment in str(e)


def test_batch_norm_constants_fold_to_scale_and_shift():
    """tf.nn.batch_normalization with constant moments: Rsqrt(var + eps) *
    gamma and beta - mean * that fold; the network sees Mul and Add of
    constants only."""
    def build():
        x = tf1.placeholder(tf1.float32, [1, 4, 4, 3], name="input")
        c = [tf1.constant(np.array(v, np.float32)) for v in
             ([0.1, 0.2, 0.3], [1.0, 2.0, 0.5], [1.5, 1.0, 2.0],
              [0.0, 0.5, -0.5])]
        tf1.nn.batch_normalization(x, c[0], c[1], c[3], c[2], 1e-3,
                                   name="out")
    gd = _pb(build)
    names = [n.name for n in gd.node if n.op in ("Rsqrt", "Sub")]
    assert len(names) == 2 and set(known_values(gd, names)) == set(names)


def test_pb_path_imports_no_tensorflow(tmp_path):
    """Flatten by shape arithmetic compiles without importing TF."""
    def build():
        x = tf1.placeholder(tf1.float32, [None, 4, 4, 3], name="input")
        y = tf1.nn.relu(x)
        flat = tf1.reshape(y, [-1, tf1.reduce_prod(tf1.shape(y)[1:])])
        tf1.nn.softmax(flat, name="out")
    graph = tf.Graph()
    with graph.as_default():
        build()
    path = tmp_path / "net.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    code = ("import sys; from compiler import compile_file; "
            f"r = compile_file({str(path)!r}); "
            "print(r.stage_count, 'tensorflow' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, cwd=str(tmp_path.parent), timeout=120,
                         env={"PYTHONPATH": str(_root())})
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-1] == "False"


def _root():
    import compiler
    from pathlib import Path
    return Path(compiler.__file__).resolve().parent.parent
