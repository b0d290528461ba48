"""One small function per stage type: fn(stage, x, ctx) -> float32 (H, W, C).

``x`` is the stage input read from memory as float32 (H, W, C); ``ctx``
gives constants and second operands (see executor.StageContext). Bias and
postOp are applied by the executor, after the op, for every kernel.
"""
from ncsformat import Op

from . import activation, channel, conv, eltwise, layout, pool

KERNELS = {
    Op.CONV: conv.convolution,
    Op.DEPTH_CONV: conv.depth_convolution,
    Op.DECONV: conv.deconvolution,
    Op.FC: conv.fully_connected,
    Op.MAX_POOL: pool.max_pooling,
    Op.AVG_POOL: pool.average_pooling,
    Op.SOFTMAX: channel.softmax,
    Op.LRN: channel.lrn,
    Op.PRELU: channel.prelu,
    Op.SCALE: channel.scale,
    Op.BIAS: channel.identity,
    Op.NONE: channel.identity,
    Op.SUM: eltwise.eltwise_sum,
    Op.PROD: eltwise.eltwise_prod,
    Op.MAX: eltwise.eltwise_max,
    Op.CROP: layout.crop,
    Op.RESHAPE: layout.reshape,
    Op.COPY: layout.copy,
}
for _op in (Op.RELU, Op.RELU_X, Op.LEAKY_RELU, Op.ELU, Op.SIGMOID, Op.TANH):
    KERNELS[_op] = activation.activation_stage
