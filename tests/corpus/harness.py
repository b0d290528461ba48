"""Save, freeze, compile and run the corpus nets as an NCS user would.

``build(fn, root)``: in a fresh tf.Graph, build the net, initialise it,
save ``root/<name>/<name>.meta`` + checkpoint with tf1.train.Saver, freeze
to ``root/<name>/<name>.pb`` (convert_variables_to_constants) and run
TensorFlow on a seeded fp16-rounded input: the expected side. A batch-N
placeholder gets N copies of the input and the first output is kept.

``compile_net(built, kind)`` compiles the ``.pb`` or the ``.meta`` (with its
checkpoint prefix as -w, as mvNCCompile takes it) for 12 SHAVEs with the
net's -in/-on; ``check(built, kind)`` also runs the graph on the emulated
stick and compares with NCSDK's metrics.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import nets as corpus_nets

SHAVES = 12
SEED = 1234


@dataclass
class Built:
    name: str
    idioms: list
    input_node: str
    output_node: str
    pb: Path
    meta: Path
    prefix: Path
    x: np.ndarray               # (1, ...) float32, fp16-exact, batch 1
    expected: np.ndarray        # flat float32: TensorFlow's output, item 0
    op_types: list = field(default_factory=list)   # of the frozen graph


@dataclass
class Outcome:
    kind: str                   # "pb" or "meta"
    result: object = None       # compiler.api.CompileResult
    got: np.ndarray = None      # the stick's output, flat float32
    metrics: dict = None        # ncsdk.metrics.compare
    error: str = ""             # first line of the failure, if any
    warnings: list = field(default_factory=list)   # the compiler's

    @property
    def passed(self):
        return bool(self.metrics and self.metrics["passed"])


def seeded_input(shape, spec, seed):
    rng = np.random.default_rng(seed)
    if spec.integer:
        x = rng.integers(int(spec.low), int(spec.high), shape)
    else:
        x = rng.uniform(spec.low, spec.high, shape)
    return x.astype(np.float16).astype(np.float32)


def build(fn, root, seed=0):
    """Build one net, save both files, compute TF's output. -> Built."""
    from tfcompat import tf, tf1

    spec = corpus_nets.spec(fn)
    name = fn.__name__
    directory = Path(root) / name
    directory.mkdir(parents=True, exist_ok=True)
    prefix = directory / name
    graph = tf.Graph()
    try:
        with graph.as_default():
            tf1.set_random_seed(SEED)
            input_node, output_node, idioms = fn()
            inp = graph.get_tensor_by_name(input_node + ":0")
            out = graph.get_tensor_by_name(output_node + ":0")
            dims = inp.shape.as_list()
            batch = dims[0] or 1
            x = seeded_input([1] + dims[1:], spec, seed)
            if spec.keras_session:
                from tf_keras.src import backend as K
                sess = K.get_session()
            else:
                sess = tf1.Session(graph=graph)
                sess.run(tf1.global_variables_initializer())
            try:
                tf1.train.Saver().save(sess, str(prefix))
                y = sess.run(out, {inp: np.repeat(x, batch, axis=0)})
                frozen = tf1.graph_util.convert_variables_to_constants(
                    sess, graph.as_graph_def(), [output_node])
            finally:
                if not spec.keras_session:
                    sess.close()
    finally:
        if spec.keras_session:
            import tf_keras
            tf_keras.backend.clear_session()
    pb = prefix.with_suffix(".pb")
    pb.write_bytes(frozen.SerializeToString())
    y = np.asarray(y, np.float32)
    return Built(name, list(idioms), input_node, output_node, pb,
                 prefix.with_suffix(".meta"), prefix, x,
                 y[0].reshape(-1), sorted({n.op for n in frozen.node}))


def compile_net(built, kind):
    """compile_file on the .pb or the .meta, as mvNCCompile -s 12."""
    from compiler.api import compile_file
    from ncsdk.common import weights_argument

    if kind == "pb":
        path, weights = built.pb, None
    else:
        path = built.meta
        weights = weights_argument(path, str(built.prefix))
    return compile_file(path, weights=weights, shaves=SHAVES,
                        input_node=built.input_node,
                        output_node=built.output_node)


def stick_input(result, x):
    """The tensor the stick is given: the input in the compiled graph's
    (H, W, C) shape (x has the same values in the placeholder's shape)."""
    shape = tuple(result.input_shape[1:]) if result.input_shape else ()
    x = x[0]
    if shape and int(np.prod(shape)) == x.size:
        x = x.reshape(shape)
    return x.astype(np.float16)


def first_line(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else exc!r}"


def check(built, kind):
    """Compile, run on the emulated stick, compare with TF. -> Outcome."""
    from compiler.errors import CompileError
    from emulator.infer import run_once
    from ncsdk.metrics import compare

    outcome = Outcome(kind)
    try:
        outcome.result = compile_net(built, kind)
    except CompileError as exc:
        outcome.error = str(exc).strip().splitlines()[0]
        return outcome
    except Exception as exc:     # a crash is a finding too: keep its line
        outcome.error = "compiler crashed: " + first_line(exc)
        return outcome
    outcome.warnings = list(getattr(outcome.result, "warnings", []))
    try:
        got, _ = run_once(outcome.result.blob,
                          stick_input(outcome.result, built.x))
    except Exception as exc:
        outcome.error = "stick: " + first_line(exc)
        return outcome
    outcome.got = got.astype(np.float32)
    try:
        outcome.metrics = compare(outcome.got, built.expected)
    except ValueError as exc:
        outcome.error = f"compare: {exc}"
    return outcome


def build_all(root, fns=None):
    return {fn.__name__: build(fn, root) for fn in (fns or corpus_nets.NETS)}
