"""Ops that only move values: crop and reshape."""
from .fp16 import to_float32


def crop(st, x, ctx):
    """The input window at the opParams offsets [x, y, z]; x is the fp16
    view, so only the window is converted."""
    ox, oy, oz = ctx.crop_offsets
    w, h, c = st.output_dims
    return to_float32(x[oy:oy + h, ox:ox + w, oz:oz + c])


def reshape(st, x, ctx):
    """The same values in YXZ order under the output dims."""
    w, h, c = st.output_dims
    return x.reshape(h, w, c)
