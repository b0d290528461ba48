"""The framework references: what mvNCCheck compares the stick against.

TensorFlow running a frozen ``.pb`` or a saved session (``.meta`` +
checkpoint), and a TensorFlow execution of Caffe layers for a ``.prototxt``
(no Caffe needed). Each module imports TensorFlow lazily.
"""
from pathlib import Path

import numpy as np


class ReferenceMissing(RuntimeError):
    """The framework side cannot run this network."""


def run_reference(network, weights, input_node, output_node, x, shape=()):
    """The framework's output for input x (H, W, C float32), flat float32.
    ``shape``: the input in the framework's own rank with batch 1 ((1, 100)
    for an MLP; default: x with a batch axis, (1, H, W, C))."""
    suffix = Path(network).suffix.lower()
    feed = x.reshape(shape) if shape else x[None]
    if suffix == ".pb":
        from .tensorflow import run_frozen
        out = run_frozen(network, input_node, output_node, feed)
    elif suffix == ".meta":
        from .tensorflow import run_session
        out = run_session(network, weights, input_node, output_node, feed)
    elif suffix == ".prototxt":
        from .caffe import run_caffe_reference
        try:
            out = run_caffe_reference(network, weights, x)
        except ValueError as exc:     # a layer the reference lacks
            raise ReferenceMissing(f"the Caffe reference cannot run "
                                   f"{network}: {exc}") from None
    else:
        raise ReferenceMissing(f"no framework to run {suffix} files")
    return np.asarray(out, np.float32).reshape(-1)


__all__ = ["ReferenceMissing", "run_reference"]
