"""Our TF-Slim nets against the reference facts in tests/data/zoo-reference.

The JSON files were generated from the reference TF-Slim definitions; they are
the oracle. Variables must match by name, shape and order because released
checkpoints are restored by name.
"""
import json
import pathlib

import pytest

REFERENCE_DIR = pathlib.Path(__file__).parent / "data" / "zoo-reference"
REFERENCE_FILES = sorted(REFERENCE_DIR.glob("*.json"))
# One small net per family is frozen and counted op by op.
FROZEN_CHECKS = ["mobilenet_v1_0.25_128", "inception_v1", "inception_v2",
                 "inception_v3", "inception_v4", "inception_resnet_v2"]
MAC_OP_TYPES = ("Conv2D", "DepthwiseConv2dNative", "MatMul")


def _reference(name):
    return json.loads((REFERENCE_DIR / (name + ".json")).read_text())


def _graph(ref):
    from zoo.nets import build_inference_graph
    return build_inference_graph(ref["model_name"], ref["image_size"],
                                 num_classes=ref["num_classes"])


def _variables(graph):
    from zoo.tfcompat import tf1
    with graph.as_default():
        return [[v.op.name, v.shape.as_list()] for v in tf1.global_variables()]


def test_reference_files_present():
    assert len(REFERENCE_FILES) == 21


@pytest.mark.parametrize("path", REFERENCE_FILES, ids=lambda p: p.stem)
def test_inference_graph_matches_reference(path):
    ref = json.loads(path.read_text())
    graph = _graph(ref)
    assert _variables(graph) == ref["variables"]
    input_ = graph.get_tensor_by_name(ref["input_node"] + ":0")
    assert input_.shape.as_list() == ref["input_shape"]
    output = graph.get_tensor_by_name(ref["output_node"] + ":0")
    assert output.shape.as_list() == [1, ref["num_classes"]]
    logits = graph.get_tensor_by_name(ref["logits_node"] + ":0")
    assert logits.shape.as_list() == [1, ref["num_classes"]]


def _freeze(graph, output_node):
    """Frozen GraphDef: any variable values will do for structure and shapes."""
    from zoo.tfcompat import tf1
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        sess.run(tf1.global_variables_initializer())
        return tf1.graph_util.convert_variables_to_constants(
            sess, graph.as_graph_def(), [output_node])


def _macs(graph_def):
    """Multiply-accumulates per op type, from the shapes of the frozen graph."""
    from zoo.tfcompat import tf, tf1
    graph = tf.Graph()
    with graph.as_default():
        tf1.import_graph_def(graph_def, name="")
    macs = {}
    for op in graph.get_operations():
        if op.type not in MAC_OP_TYPES:
            continue
        weights = op.inputs[1].shape.as_list()
        if op.type == "MatMul":
            count = weights[0] * weights[1]
        else:
            _, out_h, out_w, _ = op.outputs[0].shape.as_list()
            count = out_h * out_w
            for dim in weights:
                count *= dim
        macs[op.type] = macs.get(op.type, 0) + count
    return macs


@pytest.mark.parametrize("name", FROZEN_CHECKS)
def test_frozen_graph_matches_reference(name):
    ref = _reference(name)
    frozen = _freeze(_graph(ref), ref["output_node"])
    assert sorted({node.op for node in frozen.node}) == ref["op_types_frozen"]
    macs = _macs(frozen)
    assert macs == ref["macs_by_op_type"]
    assert sum(macs.values()) == ref["macs"]
