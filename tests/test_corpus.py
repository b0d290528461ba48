"""People's own TensorFlow networks (the TF 1.x idioms NCSDK 1.x accepted):
the corpus of tests/corpus, each net saved as .meta + checkpoint and frozen
to .pb, compiled from both with the same line as mvNCCompile -s 12 -in -on,
run on the emulated stick and compared with TensorFlow running the same
graph on the same fp16-rounded input, with mvNCCheck's limits.
"""
import numpy as np
import pytest

from corpus import harness, nets

NAMES = [fn.__name__ for fn in nets.NETS]


class Corpus:
    """Every net built once; each (net, .pb/.meta) checked at most once."""

    def __init__(self, root):
        self.root = root
        self.built = harness.build_all(root)
        self._outcomes = {}

    def outcome(self, name, kind):
        key = (name, kind)
        if key not in self._outcomes:
            self._outcomes[key] = harness.check(self.built[name], kind)
        return self._outcomes[key]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return Corpus(tmp_path_factory.mktemp("corpus"))


def describe(outcome):
    """The failure as a line: the compile error, or NCSDK's four numbers."""
    if outcome.error:
        return f"{outcome.kind}: {outcome.error}"
    m = outcome.metrics
    return f"{outcome.kind}: " + ", ".join(
        f"{m[k]['label']} {m[k]['value']:.3f}% "
        f"({'Pass' if m[k]['passed'] else 'Fail'})"
        for k in ("max_error", "mean_error", "wrong_share", "rms_error"))


# ---------------------------------------------------------------- the corpus

def test_corpus_has_twenty_small_nets(corpus):
    assert len(NAMES) >= 20 and len(set(NAMES)) == len(NAMES)
    for name, built in corpus.built.items():
        assert built.idioms, name
        assert built.pb.is_file() and built.meta.is_file(), name
        assert built.prefix.with_suffix(".index").is_file(), name


def test_corpus_frozen_graphs_hold_the_idioms(corpus):
    """The ops the 2017-2018 idioms froze to are really in the graphs."""
    ops = set().union(*(b.op_types for b in corpus.built.values()))
    wanted = {
        "Shape", "StridedSlice", "Prod", "Pack", "Slice", "ExpandDims",
        "ConcatV2", "Switch", "Merge", "PlaceholderWithDefault", "LeakyRelu",
        "Maximum", "Minimum", "Square", "Neg", "Abs", "AddN", "Split",
        "IdentityN", "StopGradient", "NoOp", "RealDiv", "Sub", "Rsqrt",
        "Conv2DBackpropInput", "Squeeze", "Mean", "FusedBatchNormV3",
        "BiasAdd", "AddV2", "Mul", "DepthwiseConv2dNative", "LRN", "MatMul",
        "Tanh", "Sigmoid", "Elu", "Pad"}
    assert wanted <= ops, sorted(wanted - ops)


def graph_def(built):
    from tfcompat import tf1
    return tf1.GraphDef.FromString(built.pb.read_bytes())


def chain(gd):
    """{node name: (op, [data inputs])} of a GraphDef."""
    return {n.name: (n.op, [i for i in n.input if not i.startswith("^")])
            for n in gd.node}


def test_keras2_flatten_is_the_2018_pattern(corpus):
    nodes = chain(graph_def(corpus.built["keras2_flatten_cnn"]))
    assert nodes["flatten_1/Reshape"] == (
        "Reshape", ["max_pooling2d_2/MaxPool", "flatten_1/stack"])
    op, ins = nodes["flatten_1/stack"]
    assert op == "Pack" and ins[1] == "flatten_1/Prod"
    assert nodes["flatten_1/Prod"][1][0] == "flatten_1/strided_slice"
    assert nodes["flatten_1/strided_slice"][1][0] == "flatten_1/Shape"
    assert nodes["flatten_1/Shape"][0] == "Shape"


def test_slim_flatten_is_the_tf1_pattern(corpus):
    nodes = chain(graph_def(corpus.built["slim_net"]))
    assert nodes["Flatten/Reshape"][1][1] == "Flatten/concat"
    assert nodes["Flatten/concat"][0] == "ConcatV2"
    assert nodes["Flatten/concat"][1][:2] == ["Flatten/Slice",
                                              "Flatten/ExpandDims"]
    assert nodes["Flatten/ExpandDims"][1][0] == "Flatten/Prod"
    assert nodes["Flatten/Prod"][1][0] == "Flatten/Slice_1"


def test_keras_learning_phase_switch_merge(corpus):
    nodes = chain(graph_def(corpus.built["keras_switch_merge"]))
    assert nodes["keras_learning_phase"][0] == "PlaceholderWithDefault"
    merges = [n for n, (op, _) in nodes.items() if op == "Merge"]
    assert {m.split("/")[0] for m in merges} >= {"batch_normalization_1",
                                                  "dropout_1"}
    assert any(op == "Switch" for op, _ in nodes.values())


@pytest.mark.parametrize("name", NAMES)
def test_tensorflow_output_is_informative(corpus, name):
    """Seeded weights: TF's output is finite and (beyond one value) varied."""
    y = corpus.built[name].expected
    assert np.all(np.isfinite(y))
    if y.size > 1:
        assert y.std() > 0.01 * np.abs(y).max(), y


# ---------------------------------------------------------------- the stick

STICK_CASES = [(name, kind) for name in NAMES for kind in ("pb", "meta")]


@pytest.mark.parametrize("name,kind", STICK_CASES)
def test_compiles_and_matches_tensorflow(corpus, name, kind):
    """compile_file(.pb or .meta, shaves=12, -in, -on) -> stick vs TF,
    NCSDK's four tests."""
    out = corpus.outcome(name, kind)
    assert not out.error, out.error
    assert out.result.stage_count > 0
    assert out.got.size == corpus.built[name].expected.size
    assert out.metrics["passed"], describe(out)


@pytest.mark.parametrize("name", NAMES)
def test_pb_and_meta_give_the_same_graph(corpus, name):
    """The frozen .pb and the saved session compile to the same graph file
    (or at least both pass)."""
    pb, meta = corpus.outcome(name, "pb"), corpus.outcome(name, "meta")
    assert not (pb.error or meta.error), pb.error or meta.error
    assert pb.result.blob == meta.result.blob or (pb.passed and meta.passed)


# ---------------------------------------------------------------- mvNCCheck

CHECKS = [   # net, file, extra mvNCCheck flags
    ("mnist_deep", "meta", []),               # the guide's own command
    ("keras_sequential", "pb", []),
    ("pilotnet", "pb", ["-S", "255"]),
    ("mlp_100", "pb", []),
    ("batch4_cnn", "pb", []),
    ("keras_switch_merge", "meta", []),
]


@pytest.mark.parametrize("name,kind,extra", CHECKS,
                         ids=[f"{n}.{k}" for n, k, _ in CHECKS])
def test_mvNCCheck_passes(corpus, name, kind, extra, tmp_path, capsys):
    from ncsdk.check import main

    built = corpus.built[name]
    path = built.pb if kind == "pb" else built.meta
    code = main([str(path), "-s", "12", "-in", built.input_node,
                 "-on", built.output_node, *extra,
                 "--save", str(tmp_path / "out")])
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    assert printed.out.count(", Pass") == 4
