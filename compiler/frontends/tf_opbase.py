"""What every TensorFlow op converter uses: IR node construction and
per-channel constants."""
import numpy as np

from .. import ir
from ..errors import STAGE_DETAILS, fail
from ..passes.util import RENAMES


def make_node(tf_node, op, inputs, shape, name=None, **attrs):
    """An IR node for ``tf_node`` reading IR nodes ``inputs``.

    Marked RENAMES: when a pass fuses it into the stage before, that stage
    takes its name, as NCSDK named a TF stage after its last node."""
    attrs[RENAMES] = True
    return ir.Node(name or tf_node.name, op, [i.name for i in inputs],
                   tuple(int(d) for d in shape), attrs)


def channel_vector(ctx, node, i, channels):
    """Input ``i`` as a per-channel float32 vector: a scalar, or a constant
    whose only dimension above 1 is the last one, of size ``channels``."""
    v = np.asarray(ctx.const(node, i))
    if v.dtype.kind not in "fiub":
        fail(STAGE_DETAILS, f"{node.name}: constant of type {v.dtype}")
    v = v.astype(np.float32)
    if v.size == 1:
        return np.full(channels, v.reshape(-1)[0], np.float32)
    if v.size != channels or v.shape[-1] != channels:
        fail(STAGE_DETAILS, f"{node.name} ({node.op}): constant of shape "
             f"{list(v.shape)} for a tensor of {channels} channels (only "
             "a scalar or one value per channel)")
    return v.reshape(channels)
