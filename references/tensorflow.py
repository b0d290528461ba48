"""TensorFlow on a frozen graph or a saved session: the expected side of
mvNCCheck and of the pipeline's check."""
from pathlib import Path

import numpy as np


def run_frozen(pb_path, input_node, output_node, x):
    """Run the frozen GraphDef at pb_path on x (float32); return the output."""
    from tfcompat import tf, tf1

    graph_def = tf1.GraphDef()
    graph_def.ParseFromString(Path(pb_path).read_bytes())
    with tf.Graph().as_default() as graph:
        tf1.import_graph_def(graph_def, name="")
        inp = graph.get_tensor_by_name(input_node + ":0")
        out = graph.get_tensor_by_name(output_node + ":0")
        with tf1.Session(graph=graph) as sess:
            return _run_batch(sess, inp, out, x.astype(np.float32))


def _run_batch(sess, inp, out, x):
    """Run on x (batch 1); a placeholder of fixed batch N (compiled as batch
    1, as NCSDK did) gets x N times and the first result is kept."""
    dims = inp.shape.as_list() if inp.shape.rank is not None else None
    batch = dims[0] if dims and len(dims) == x.ndim else None
    if batch and batch > 1:
        result = np.asarray(sess.run(out, {inp: np.repeat(x, batch, 0)}))
        return result[:1] if result.ndim and result.shape[0] == batch \
            else result
    return np.asarray(sess.run(out, {inp: x}))


def run_session(meta_path, weights, input_node, output_node, x):
    """The saved session itself on x: the expected side of mvNCCheck."""
    from compiler.frontends.tf_meta import bare_name, restored_session

    with restored_session(meta_path, weights) as (graph, sess):
        inp = graph.get_tensor_by_name(bare_name(input_node) + ":0")
        out = graph.get_tensor_by_name(bare_name(output_node) + ":0")
        dims = inp.shape.as_list() if inp.shape.rank is not None else None
        if dims and None not in dims and dims[0] == 1:
            x = x.reshape(dims)
        return _run_batch(sess, inp, out, x)
