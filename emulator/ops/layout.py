"""Ops that only move values: crop and reshape."""


def crop(st, x, ctx):
    """The input window at the opParams offsets [x, y, z]."""
    ox, oy, oz = ctx.crop_offsets
    w, h, c = st.output_dims
    return x[oy:oy + h, ox:ox + w, oz:oz + c]


def reshape(st, x, ctx):
    """The same values in YXZ order under the output dims."""
    w, h, c = st.output_dims
    return x.reshape(h, w, c)
