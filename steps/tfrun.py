"""TensorFlow on a frozen graph: the expected side of every check."""
from pathlib import Path

import numpy as np


def run_frozen(pb_path, input_node, output_node, x):
    """Run the frozen GraphDef at pb_path on x (float32); return the output."""
    from zoo.tfcompat import tf, tf1

    graph_def = tf1.GraphDef()
    graph_def.ParseFromString(Path(pb_path).read_bytes())
    with tf.Graph().as_default() as graph:
        tf1.import_graph_def(graph_def, name="")
        inp = graph.get_tensor_by_name(input_node + ":0")
        out = graph.get_tensor_by_name(output_node + ":0")
        with tf1.Session(graph=graph) as sess:
            return np.asarray(sess.run(out, {inp: x.astype(np.float32)}))
