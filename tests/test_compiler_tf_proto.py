"""The run-time GraphDef messages read TF-written files exactly as TF does.

TensorFlow (imported only here, in the tests) is the independent source: it
writes the .pb and parses it; our classes must see the same nodes, attrs and
constant values.
"""
import numpy as np
import pytest
from google.protobuf import json_format

from compiler.frontends import tf_graphdef, tf_proto, tf_values

import tfcompat as tf_mod
tf, tf1 = tf_mod.tf, tf_mod.tf1


def _tf_written_graph():
    g = tf1.Graph()
    with g.as_default():
        x = tf1.placeholder(tf1.float32, [None, 8, 8, 3], name="input")
        w = tf1.constant(np.arange(54, dtype=np.float32).reshape(3, 3, 3, 2))
        y = tf1.nn.conv2d(x, w, [1, 2, 2, 1], "SAME", name="conv")
        y = tf1.nn.bias_add(y, tf1.constant([0.5, -1.0]), name="bias")
        y = tf1.nn.max_pool2d(y, [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
        tf1.constant(np.float16(1.5), name="half")
        tf1.constant(True, name="flag")
        tf1.constant(np.full((2, 3), 7, np.int32), name="fill")
        tf1.constant(np.arange(6, dtype=np.int64), name="int64")
        tf1.constant(np.arange(4, dtype=np.float16), name="halfs")
        tf1.constant([b"ab", b"c"], name="strings")
        tf1.reshape(y, [1, -1], name="out")
    return g.as_graph_def()


def test_parse_matches_tensorflow_node_by_node():
    tf_gd = _tf_written_graph()
    ours = tf_graphdef.parse_graphdef(tf_gd.SerializeToString())
    assert len(ours.node) == len(tf_gd.node)
    for a, b in zip(ours.node, tf_gd.node):
        assert (a.name, a.op, list(a.input), a.device) == \
            (b.name, b.op, list(b.input), b.device)
        assert sorted(a.attr) == sorted(b.attr)
        for key in a.attr:
            assert json_format.MessageToDict(a.attr[key]) == \
                json_format.MessageToDict(b.attr[key],
                                          use_integers_for_enums=True), \
                (a.name, key)
    assert ours.versions.producer == tf_gd.versions.producer


def test_reserialised_bytes_parse_back_in_tensorflow():
    tf_gd = _tf_written_graph()
    ours = tf_graphdef.parse_graphdef(tf_gd.SerializeToString())
    again = tf1.GraphDef.FromString(ours.SerializeToString())
    assert again == tf_gd


def test_constant_values_equal_tensorflow_make_ndarray():
    tf_gd = _tf_written_graph()
    ours = tf_graphdef.parse_graphdef(tf_gd.SerializeToString())
    checked = 0
    for a, b in zip(ours.node, tf_gd.node):
        if b.op != "Const" or b.attr["dtype"].type == tf.string.as_datatype_enum:
            continue
        mine = tf_values.tensor_to_numpy(a.attr["value"].tensor)
        ref = tf.make_ndarray(b.attr["value"].tensor)
        assert mine.dtype == ref.dtype and mine.shape == ref.shape, b.name
        np.testing.assert_array_equal(mine, ref)
        checked += 1
    assert checked >= 8


def test_typed_value_lists_are_decoded():
    """Small tensors TF writes as float_val/int_val/half_val, and the
    'one value fills the shape' rule."""
    for value, dtype in ((np.float32(2.5), tf.float32),
                         (np.full((2, 2), 3, np.int32), tf.int32),
                         (np.array([1.5, -2.0], np.float16), tf.float16),
                         (np.array([True, False]), tf.bool)):
        proto = tf.make_tensor_proto(value, dtype=dtype)
        mine = tf_proto.TensorProto.FromString(proto.SerializeToString())
        np.testing.assert_array_equal(tf_values.tensor_to_numpy(mine),
                                      tf.make_ndarray(proto))
    filled = tf_proto.TensorProto(dtype=tf_proto.DT_FLOAT)
    filled.tensor_shape.dim.add(size=3)
    filled.float_val.append(4.0)
    np.testing.assert_array_equal(tf_values.tensor_to_numpy(filled),
                                  [4.0, 4.0, 4.0])


def test_no_tensorflow_module_needed_for_parsing():
    """No compiler module imports TensorFlow, except the .meta frontend (a
    saved session needs TF to restore), and that one only inside a function."""
    import ast
    import pathlib
    root = pathlib.Path(tf_graphdef.__file__).resolve().parent.parent
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        nodes = ast.walk(tree)
        if path.name == "tf_meta.py":
            nodes = [n for n in tree.body]   # module level only
        for node in nodes:
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("tensorflow", "tfcompat",
                                            "tf_slim")), path
