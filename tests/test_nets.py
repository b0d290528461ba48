"""Our TF-Slim nets against the reference facts in tests/data/zoo-reference.

The JSON files were generated from the reference TF-Slim definitions; they are
the oracle. Variables must match by name, shape and order because released
checkpoints are restored by name; the frozen graph's op types and MACs pin the
op structure the compiler will see. Inception cases are marked ``slow`` (seconds
each); the MobileNet ones are quick.
"""
import functools
import json
import pathlib

import pytest

REFERENCE_DIR = pathlib.Path(__file__).parent / "data" / "zoo-reference"
NAMES = sorted(path.stem for path in REFERENCE_DIR.glob("*.json"))
# Frozen and counted op by op: the smallest MobileNet and every Inception net.
FROZEN_NAMES = ["mobilenet_v1_0.25_128", "inception_v1", "inception_v2",
                "inception_v3", "inception_v4", "inception_resnet_v2"]
SCOPE_NAMES = ["mobilenet_v1_0.25_128", "inception_v1", "inception_v4",
               "inception_resnet_v2"]
MAC_OP_TYPES = ("Conv2D", "DepthwiseConv2dNative", "MatMul")


def _params(names):
    """Mark the Inception nets slow: building one takes seconds."""
    return [pytest.param(name, id=name,
                         marks=[pytest.mark.slow] if name.startswith("inception") else [])
            for name in names]


def _reference(name):
    return json.loads((REFERENCE_DIR / (name + ".json")).read_text())


def _graph(ref):
    return _cached_graph(ref["model_name"], ref["image_size"], ref["num_classes"])


@functools.lru_cache(maxsize=None)
def _cached_graph(model_name, image_size, num_classes):
    """Build each graph once for all the tests that look at it."""
    from zoo.nets import build_inference_graph
    return build_inference_graph(model_name, image_size, num_classes=num_classes)


def _variables(graph):
    from tfcompat import tf1
    with graph.as_default():
        return [[v.op.name, v.shape.as_list()] for v in tf1.global_variables()]


def test_all_reference_files_are_covered():
    from zoo.nets import MODEL_NAMES
    assert len(NAMES) == 21
    assert {_reference(name)["model_name"] for name in NAMES} == set(MODEL_NAMES)


@pytest.mark.parametrize("name", _params(NAMES))
def test_inference_graph_matches_reference(name):
    ref = _reference(name)
    graph = _graph(ref)
    assert _variables(graph) == ref["variables"]
    input_ = graph.get_tensor_by_name(ref["input_node"] + ":0")
    assert input_.shape.as_list() == ref["input_shape"]
    output = graph.get_tensor_by_name(ref["output_node"] + ":0")
    assert output.shape.as_list() == [1, ref["num_classes"]]
    logits = graph.get_tensor_by_name(ref["logits_node"] + ":0")
    assert logits.shape.as_list() == [1, ref["num_classes"]]


@pytest.mark.parametrize("name", _params(SCOPE_NAMES))
def test_base_ops_carry_scope_twice_variables_once(name):
    """The trunk is built in a re-entered variable scope (README convention)."""
    ref = _reference(name)
    first_weights = ref["variables"][0][0]
    scope = first_weights.split("/")[0]
    first_conv = [op for op in _graph(ref).get_operations() if op.type == "Conv2D"][0]
    assert first_conv.name == scope + "/" + first_weights.rsplit("/", 1)[0] + "/Conv2D"


def test_unknown_model_name_is_rejected():
    from zoo.nets import build_inference_graph
    with pytest.raises(ValueError, match="unknown model_name"):
        build_inference_graph("resnet_v1_50", 224)


def _freeze(graph, output_node):
    """Frozen GraphDef: any variable values will do for structure and shapes,
    and zeros are much cheaper to make than the random initial values."""
    from tfcompat import tf, tf1
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        sess.run([tf1.assign(v, tf.zeros(v.shape, v.dtype.base_dtype))
                  for v in tf1.global_variables()])
        return tf1.graph_util.convert_variables_to_constants(
            sess, graph.as_graph_def(), [output_node])


def _op_types(graph_def):
    return sorted({node.op for node in graph_def.node})


def _macs(graph_def):
    """Multiply-accumulates per op type, from the shapes of the frozen graph."""
    from tfcompat import tf, tf1
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
        else:  # out_h * out_w * kh * kw * cin * (cout or multiplier)
            _, out_h, out_w, _ = op.outputs[0].shape.as_list()
            count = out_h * out_w
            for dim in weights:
                count *= dim
        macs[op.type] = macs.get(op.type, 0) + count
    return macs


@pytest.mark.parametrize("name", _params(FROZEN_NAMES))
def test_frozen_graph_matches_reference(name):
    from tfcompat import tf1
    ref = _reference(name)
    frozen = _freeze(_graph(ref), ref["output_node"])
    assert _op_types(frozen) == ref["op_types_frozen"]
    assert (_op_types(tf1.graph_util.remove_training_nodes(frozen))
            == ref["op_types_frozen_after_remove_training_nodes"])
    macs = _macs(frozen)
    assert macs == ref["macs_by_op_type"]
    assert sum(macs.values()) == ref["macs"]
    # an inference graph: every batch norm uses its moving statistics
    norms = [n for n in frozen.node if n.op == "FusedBatchNormV3"]
    assert norms and not any(n.attr["is_training"].b for n in norms)
