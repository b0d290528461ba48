"""TF GraphDef frontend on hand-written GraphDefs (no TensorFlow needed):
converters, constant folding, input/output selection, shape errors."""
import json
from pathlib import Path

import numpy as np
import pytest

from compiler import compile_file
from compiler.errors import CompileError
from compiler.frontends import SUFFIXES, loader_for, register
from compiler.frontends.tf_graphdef import graphdef_to_ir
from compiler.frontends.tf_ops import CONVERTERS
from compiler.frontends.tf_proto import DT_FLOAT, DT_INT32, GraphDef
from compiler_helpers import Blob

DATA = Path(__file__).parent / "data" / "zoo-reference"


def add(g, name, op, inputs=(), **attrs):
    n = g.node.add(name=name, op=op)
    n.input.extend(inputs)
    for k, v in attrs.items():
        a = n.attr[k]
        if isinstance(v, np.ndarray):
            t = a.tensor
            t.dtype = DT_INT32 if v.dtype == np.int32 else DT_FLOAT
            for d in v.shape:
                t.tensor_shape.dim.add(size=d)
            t.tensor_content = v.astype(v.dtype.newbyteorder("<")).tobytes()
        elif isinstance(v, str):
            a.s = v.encode()
        elif isinstance(v, bool):
            a.b = v
        elif isinstance(v, float):
            a.f = v
        elif isinstance(v, list):
            a.list.i.extend(v)
        elif isinstance(v, tuple):          # a shape
            for d in v:
                a.shape.dim.add(size=d)
        else:
            a.i = v
    return n


def const(g, name, value):
    add(g, name, "Const", value=np.asarray(value))
    return name


def small_net(input_shape=(1, 8, 8, 3)):
    """input -> conv (weights via Identity, like a frozen variable) -> relu
    -> maxpool -> softmax; the last node is the softmax."""
    g = GraphDef()
    add(g, "input", "Placeholder", shape=input_shape, dtype=DT_FLOAT)
    const(g, "w", np.ones((3, 3, 3, 4), np.float32))
    add(g, "w/read", "Identity", ["w"])
    add(g, "conv", "Conv2D", ["input", "w/read"], strides=[1, 2, 2, 1],
        padding="SAME")
    add(g, "relu", "Relu", ["conv"])
    add(g, "pool", "MaxPool", ["relu"], ksize=[1, 2, 2, 1],
        strides=[1, 1, 1, 1], padding="VALID")
    add(g, "prob", "Softmax", ["pool"])
    return g


def test_every_zoo_op_type_has_a_converter():
    ops = set()
    for path in DATA.glob("*.json"):
        ops |= set(json.loads(path.read_text())["op_types_frozen"])
    assert ops, "reference data missing"
    missing = ops - set(CONVERTERS) - {"Const", "Placeholder"}
    assert not missing
    assert {"FusedBatchNorm", "Add", "Sigmoid", "Tanh", "Elu", "LRN",
            "Mean", "Pad"} <= set(CONVERTERS)


def test_convert_small_net():
    g = graphdef_to_ir(small_net())
    assert [(n.name, n.op, n.shape) for n in g.nodes] == [
        ("input", "input", (1, 8, 8, 3)), ("conv", "conv", (1, 4, 4, 4)),
        ("relu", "relu", (1, 4, 4, 4)), ("pool", "maxpool", (1, 3, 3, 4)),
        ("prob", "softmax", (1, 3, 3, 4))]
    assert g.output == "prob" and g.input == "input"
    conv = g.node("conv")
    assert conv.attrs["weights"].shape == (3, 3, 3, 4)
    assert (conv.attrs["stride"], conv.attrs["padding"]) == ((2, 2), "SAME")


def test_output_node_cuts_the_network():
    g = graphdef_to_ir(small_net(), output_node="relu")
    assert [n.name for n in g.nodes] == ["input", "conv", "relu"]


def test_input_node_shape_is_inferred():
    g = graphdef_to_ir(small_net(), input_node="relu")
    assert [(n.name, n.op, n.shape) for n in g.nodes] == [
        ("relu", "input", (1, 4, 4, 4)), ("pool", "maxpool", (1, 3, 3, 4)),
        ("prob", "softmax", (1, 3, 3, 4))]


def test_input_size_fills_unknown_placeholder_dims():
    net = small_net(input_shape=(-1, -1, -1, 3))
    with pytest.raises(CompileError) as e:
        graphdef_to_ir(net)
    assert e.value.number == 5 and "-is W H" in str(e.value)
    g = graphdef_to_ir(net, input_size=(10, 6))       # W=10, H=6
    assert g.node("input").shape == (1, 6, 10, 3)
    assert g.node("conv").shape == (1, 3, 5, 4)


def test_compile_with_in_and_on(tmp_path):
    path = tmp_path / "n.pb"
    path.write_bytes(small_net().SerializeToString())
    b = Blob(compile_file(path, input_node="relu", output_node="pool").blob)
    assert [s.name for s in b.stages] == ["pool"]
    assert b.stages[0].data.index == 1 and b.stages[0].output.index == 2
    assert b.stages[0].input_dims == (4, 4, 4)


def test_concat_on_other_axis_is_error_5():
    g = small_net()
    const(g, "axis", np.int32(1))
    add(g, "cat", "ConcatV2", ["relu", "relu", "axis"], N=2)
    with pytest.raises(CompileError) as e:
        graphdef_to_ir(g)
    assert e.value.number == 5 and "axis" in str(e.value)


def test_unsupported_op_named_with_node():
    g = small_net()
    add(g, "odd", "Cumsum", ["prob"])
    with pytest.raises(CompileError) as e:
        graphdef_to_ir(g)
    assert str(e.value) == ("[Error 4] Toolkit Error: Stage Type Not "
                            "Supported: Cumsum (node odd)")


def test_big_stride_and_dilation_are_error_5():
    g = small_net()
    g.node[3].attr["strides"].list.i[1] = 300
    with pytest.raises(CompileError) as e:
        graphdef_to_ir(g)
    assert e.value.number == 5 and "stride" in str(e.value)


def test_suffix_table_dispatch(tmp_path):
    assert ".pb" in SUFFIXES and loader_for(".PB") is not None
    seen = {}

    def fake(network, weights, options):
        seen["args"] = (network, weights)
        return graphdef_to_ir(small_net())
    register(".fake", fake)
    try:
        net = tmp_path / "a.fake"
        net.write_text("x")
        assert compile_file(net, weights=net).stages
        assert seen["args"] == (str(net), net)
    finally:
        SUFFIXES.pop(".fake")
