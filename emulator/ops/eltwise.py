"""Eltwise sum, product and max: the second operand is at taps."""
import numpy as np


def eltwise_sum(st, x, ctx):
    return x + ctx.tensor("taps")


def eltwise_prod(st, x, ctx):
    return x * ctx.tensor("taps")


def eltwise_max(st, x, ctx):
    return np.maximum(x, ctx.tensor("taps"))
