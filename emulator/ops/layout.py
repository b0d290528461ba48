"""Ops that only move values: crop, reshape and copy."""


def crop(st, x, ctx):
    """The input window at the opParams offsets [x, y, z]."""
    ox, oy, oz = ctx.crop_offsets
    w, h, c = st.output_dims
    return x[oy:oy + h, ox:ox + w, oz:oz + c]


def reshape(st, x, ctx):
    """The same values in YXZ order under the output dims."""
    w, h, c = st.output_dims
    return x.reshape(h, w, c)


def copy(st, x, ctx):
    """Op 19 (NCSDK's channel slice): ``x`` is already the outputDimZ
    channels from the one dataPointer points at (the reader declares that
    read, with the producer's strides), so the values pass unchanged."""
    return x
