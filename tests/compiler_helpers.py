"""Helpers for the compiler tests: build frozen TF graphs, decode graph files.

The decoder here is written from docs/ncs-graph-format.md with ncsformat's
record layout only; it does not use the compiler.
"""
import numpy as np

import ncsformat as nf


def freeze(build, output):
    """Run ``build()`` in a new TF1 graph, freeze its variables to constants
    and return (GraphDef bytes, {tensor name: value} fetcher session result).

    ``build`` returns a dict of extra tensors to evaluate (may be empty).
    """
    from tfcompat import tf1
    g = tf1.Graph()
    with g.as_default():
        extra = build() or {}
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            frozen = tf1.graph_util.convert_variables_to_constants(
                sess, g.as_graph_def(), [output])
            values = sess.run(extra) if extra else {}
    return frozen.SerializeToString(), values


def run_frozen(pb_bytes, feeds, fetch):
    """Evaluate a frozen GraphDef with TF (the independent reference)."""
    from tfcompat import tf1
    gd = tf1.GraphDef.FromString(pb_bytes)
    g = tf1.Graph()
    with g.as_default():
        tf1.import_graph_def(gd, name="")
        with tf1.Session(graph=g) as sess:
            return sess.run(fetch, feed_dict=feeds)


class Blob:
    """A decoded graph file."""

    def __init__(self, blob):
        self.raw = blob
        self.header = nf.Header.unpack(blob)
        self.stages = [nf.Stage.unpack(blob, nf.HEADER_LENGTH
                                       + i * nf.STAGE_LENGTH)
                       for i in range(self.header.stage_count)]

    def data(self, operand, count):
        """``count`` fp16 values at an index-3 operand, as float32."""
        assert operand.index == nf.Region.DATA
        start = self.header.data_start + operand.pointer
        return np.frombuffer(self.raw, "<f2", count, start).astype(np.float32)

    def ops(self):
        return [s.op for s in self.stages]


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path
