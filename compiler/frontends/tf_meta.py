"""TensorFlow saved session (``x.meta`` + checkpoint ``x``) -> IR.

NCSDK compiled a network straight from what ``tf.train.Saver`` writes. We
restore the session with TensorFlow, freeze its variables into constants up
to the output node and hand the frozen GraphDef bytes to the ``.pb``
frontend, so both paths share one converter. TensorFlow is imported lazily,
inside the functions: the rest of the compiler never needs it.

The checkpoint (``-w``) is a prefix as Saver writes it (``x`` for
``x.index`` + ``x.data-00000-of-00001``); one of its files is accepted too.
Default: the meta file's own prefix (``x.meta`` -> ``x``).
"""
import re
from contextlib import contextmanager
from pathlib import Path

from ..errors import INVALID_FILE, NODE_NAME, WEIGHTS_FILE, fail
from .tf_graphdef import graphdef_to_ir, parse_graphdef

_DATA_FILE = re.compile(r"\.data-\d{5}-of-\d{5}$")
_SAVER_SCOPE = re.compile(r"^save(_\d+)?/")
# Ops of variables, initialisers and savers: never a network's output.
_NOT_OUTPUTS = {"NoOp", "Assign", "AssignVariableOp", "VariableV2",
                "Variable", "VarHandleOp", "VarIsInitializedOp", "Const",
                "SaveV2", "RestoreV2", "SaveSlices", "RestoreSlice"}


def checkpoint_prefix(meta_path, weights=None):
    """The checkpoint prefix for ``-w`` (Error 9 when it is not there)."""
    if weights is None:
        prefix = str(meta_path)[:-len(Path(meta_path).suffix)]
    else:
        prefix = _DATA_FILE.sub("", re.sub(r"\.index$", "", str(weights)))
    if not (Path(prefix + ".index").is_file() or Path(prefix).is_file()):
        fail(WEIGHTS_FILE, f"{prefix} (checkpoint {prefix}.index)")
    return prefix


def weights_file(weights):
    """A file that stands for ``-w``: compile_file insists on a file, while a
    checkpoint prefix names none; give it the prefix's ``.index`` file."""
    if weights is None or Path(weights).is_file():
        return weights
    index = Path(str(weights) + ".index")
    return str(index) if index.is_file() else weights


def default_output(graph_def):
    """NCSDK's default output, the graph's last node, skipping the nodes of
    variables, initialisers and the Saver that a saved session ends with."""
    for node in reversed(graph_def.node):
        if node.op not in _NOT_OUTPUTS and not _SAVER_SCOPE.match(node.name):
            return node.name
    fail(NODE_NAME, "(no output node in the meta graph; give -on)")


@contextmanager
def restored_session(meta_path, weights=None):
    """A tf1 Session over a fresh graph with the checkpoint restored (the
    meta graph is read first: a bad one is Error 22 before any Error 9)."""
    from google.protobuf.message import DecodeError

    from tfcompat import tf, tf1

    graph = tf.Graph()
    with graph.as_default():
        try:
            saver = tf1.train.import_meta_graph(str(meta_path),
                                                clear_devices=True)
        except (DecodeError, ValueError, KeyError, OSError,
                tf.errors.OpError) as exc:
            fail(INVALID_FILE, f"{meta_path}: not a TensorFlow meta graph "
                 f"({str(exc).splitlines()[0] if str(exc) else exc!r})")
        with tf1.Session(graph=graph) as sess:
            if saver is not None:
                prefix = checkpoint_prefix(meta_path, weights)
                try:
                    saver.restore(sess, prefix)
                except (tf.errors.OpError, ValueError) as exc:
                    fail(INVALID_FILE, f"checkpoint {prefix} does not fit "
                         f"{meta_path}: {str(exc).splitlines()[0]}")
            yield graph, sess


def bare_name(name):
    return name[:-2] if name and name.endswith(":0") else name


def freeze(meta_path, weights=None, output_node=None):
    """Restore and freeze to ``output_node``: (GraphDef bytes, output name)."""
    from tfcompat import tf1

    with restored_session(meta_path, weights) as (graph, sess):
        graph_def = graph.as_graph_def()
        output = bare_name(output_node) or default_output(graph_def)
        if output not in {n.name for n in graph_def.node}:
            fail(NODE_NAME, output)
        frozen = tf1.graph_util.convert_variables_to_constants(
            sess, graph_def, [output])
    return frozen.SerializeToString(), output


def load(network, weights=None, options=None):
    """Frontend entry for .meta files: path -> IR graph."""
    options = options or {}
    data, output = freeze(network, weights, options.get("output_node"))
    return graphdef_to_ir(parse_graphdef(data), options.get("input_node"),
                          output, options.get("input_size"))
