"""The "expected" side of mvNCCheck for Caffe models: the net run in float32
with TensorFlow ops built straight from the parsed Caffe layers.

It shares only the message parsing with the compiler (compiler.frontends.
caffe_proto and the layer/blob readers of compiler.frontends.caffe); every
layer's arithmetic is written here again, from Caffe's definitions, so a
lowering mistake in the compiler cannot hide in both sides. Tensors are
NHWC (TF's CPU layout); Caffe's C,H,W order is restored wherever it shows
(flatten, reshape, inner product).
"""
from pathlib import Path

import numpy as np

from compiler.frontends import caffe, caffe_proto


class ReferenceError(ValueError):
    """The net uses something this reference does not compute."""


# Caffe axis -> TF axis, for 4-d (NHWC) and 2-d (N, K) tensors.
_AXES = {4: {1: 3, 2: 1, 3: 2}, 2: {1: 1}}


def _tf_axis(t, axis):
    rank = len(t.shape)
    axis = axis + rank if axis < 0 else axis
    if axis not in _AXES.get(rank, {}):
        raise ReferenceError(f"axis {axis} of a rank-{rank} blob")
    return _AXES[rank][axis]


def _hw(rep, has_h, h, w, default):
    if has_h:
        return int(h), int(w)
    vals = [int(v) for v in rep] or [default]
    return vals[0], vals[-1]


def _conv_window(p):
    """(kernel, stride, pad) as (h, w) pairs of a convolution_param."""
    return (_hw(p.kernel_size, p.HasField("kernel_h"), p.kernel_h,
                p.kernel_w, 0),
            _hw(p.stride, p.HasField("stride_h"), p.stride_h, p.stride_w, 1),
            _hw(p.pad, p.HasField("pad_h"), p.pad_h, p.pad_w, 0))


class Runner:
    """Builds the TF graph layer by layer; blobs maps names to tensors."""

    def __init__(self, tf, weights):
        self.tf = tf
        self.weights = weights
        self.blobs = {}

    def blob(self, layer, i, shape):
        if not self.weights:
            return np.zeros(shape, np.float32)
        return np.asarray(layer.blobs[i], np.float32).reshape(shape)

    def nchw_flat(self, t):
        """A blob as Caffe's flat vector per image (C,H,W order)."""
        if len(t.shape) == 4:
            t = self.tf.transpose(t, [0, 3, 1, 2])
        return self.tf.reshape(t, [1, -1])

    # ---------------------------------------------------------- layers
    def Convolution(self, layer, x):
        tf, p = self.tf, layer.param("convolution_param")
        k, s, pad = _conv_window(p)
        d = _hw(p.dilation, False, 0, 0, 1)
        cin, g, n = int(x.shape[3]), int(p.group), int(p.num_output)
        w = self.blob(layer, 0, (n, cin // g) + k)
        x = tf.pad(x, [[0, 0], [pad[0]] * 2, [pad[1]] * 2, [0, 0]])
        ys = [tf.nn.conv2d(xi, wi.transpose(2, 3, 1, 0), [1, *s, 1], "VALID",
                           dilations=[1, *d, 1])
              for xi, wi in zip(tf.split(x, g, axis=3), np.split(w, g))]
        y = tf.concat(ys, axis=3) if g > 1 else ys[0]
        return y + self.blob(layer, 1, (n,)) if p.bias_term else y

    def Deconvolution(self, layer, x):
        tf, p = self.tf, layer.param("convolution_param")
        k, s, pad = _conv_window(p)
        cin, n = int(x.shape[3]), int(p.num_output)
        w = self.blob(layer, 0, (cin, n) + k)
        full = [s[i] * (int(x.shape[1 + i]) - 1) + k[i] for i in (0, 1)]
        y = tf.nn.conv2d_transpose(x, w.transpose(2, 3, 1, 0),
                                   [1, *full, n], [1, *s, 1], "VALID")
        y = y[:, pad[0]:full[0] - pad[0], pad[1]:full[1] - pad[1], :]
        return y + self.blob(layer, 1, (n,)) if p.bias_term else y

    def Pooling(self, layer, x):
        tf, p = self.tf, layer.param("pooling_param")
        size = [int(x.shape[1]), int(x.shape[2])]
        if p.global_pooling:
            k, s, pad = tuple(size), (1, 1), (0, 0)
        else:
            k = _hw([p.kernel_size] if p.HasField("kernel_size") else [],
                    p.HasField("kernel_h"), p.kernel_h, p.kernel_w, 0)
            s = _hw([p.stride], p.HasField("stride_h"), p.stride_h,
                    p.stride_w, 1)
            pad = _hw([p.pad], p.HasField("pad_h"), p.pad_h, p.pad_w, 0)
        out = []
        for i in (0, 1):      # Caffe: ceil, minus a window starting in pad
            o = int(np.ceil((size[i] + 2 * pad[i] - k[i]) / s[i])) + 1
            if pad[i] and (o - 1) * s[i] >= size[i] + pad[i]:
                o -= 1
            out.append(o)
        after = [max((out[i] - 1) * s[i] + k[i] - size[i] - pad[i], 0)
                 for i in (0, 1)]
        paddings = [[0, 0], [pad[0], after[0]], [pad[1], after[1]], [0, 0]]
        if p.pool == 0:
            xp = tf.pad(x, paddings, constant_values=-np.inf)
            y = tf.nn.max_pool2d(xp, [1, *k, 1], [1, *s, 1], "VALID")
            return y[:, :out[0], :out[1], :]
        if p.pool != 1:
            raise ReferenceError("stochastic pooling")
        total = tf.nn.avg_pool2d(tf.pad(x, paddings), [1, *k, 1],
                                 [1, *s, 1], "VALID")[:, :out[0], :out[1], :]
        area = [np.minimum(np.arange(out[i]) * s[i] - pad[i] + k[i],
                           size[i] + pad[i])
                - (np.arange(out[i]) * s[i] - pad[i]) for i in (0, 1)]
        div = np.outer(area[0], area[1]).astype(np.float32)
        return total * float(k[0] * k[1]) / div[None, :, :, None]

    def InnerProduct(self, layer, x):
        p = layer.param("inner_product_param")
        flat = self.nchw_flat(x)
        n, kdim = int(p.num_output), int(flat.shape[1])
        w = self.blob(layer, 0, (kdim, n) if p.transpose else (n, kdim))
        y = self.tf.matmul(flat, w if p.transpose else w.T)
        return y + self.blob(layer, 1, (n,)) if p.bias_term else y

    def ReLU(self, layer, x):
        slope = layer.param("relu_param").negative_slope
        return self.tf.maximum(x, 0.0) + slope * self.tf.minimum(x, 0.0)

    def PReLU(self, layer, x):
        c = int(x.shape[-1])
        shared = layer.param("prelu_param").channel_shared
        a = self.blob(layer, 0, (1,) if shared else (c,))
        return self.tf.maximum(x, 0.0) + a * self.tf.minimum(x, 0.0)

    def ELU(self, layer, x):
        alpha = layer.param("elu_param").alpha
        return self.tf.where(x > 0, x, alpha * (self.tf.exp(x) - 1.0))

    def Sigmoid(self, layer, x):
        return self.tf.sigmoid(x)

    def TanH(self, layer, x):
        return self.tf.tanh(x)

    def LRN(self, layer, x):
        p = layer.param("lrn_param")
        if p.norm_region != 0:
            raise ReferenceError("LRN within channel")
        n = int(p.local_size)
        sq = self.tf.pad(self.tf.square(x),
                         [[0, 0], [0, 0], [0, 0], [n // 2, n // 2]])
        c = int(x.shape[3])
        total = sum(sq[:, :, :, j:j + c] for j in range(n))
        return x / self.tf.pow(p.k + p.alpha / n * total, p.beta)

    def BatchNorm(self, layer, x):
        c = int(x.shape[-1])
        mean, var = self.blob(layer, 0, (c,)), self.blob(layer, 1, (c,))
        f = self.blob(layer, 2, (1,))[0]
        f = 0.0 if f == 0 else 1.0 / f
        eps = layer.param("batch_norm_param").eps
        return (x - mean * f) / np.sqrt(var * f + eps)

    def Scale(self, layer, x):
        p = layer.param("scale_param")
        c = 1 if p.num_axes == 0 else int(x.shape[-1])
        y = x * self.blob(layer, 0, (c,))
        return y + self.blob(layer, 1, (c,)) if p.bias_term else y

    def Bias(self, layer, x):
        c = 1 if layer.param("bias_param").num_axes == 0 else int(x.shape[-1])
        return x + self.blob(layer, 0, (c,))

    def Softmax(self, layer, x):
        axis = _tf_axis(x, layer.param("softmax_param").axis)
        return self.tf.nn.softmax(x, axis=axis)

    def Flatten(self, layer, x):
        return self.nchw_flat(x)

    def Reshape(self, layer, x):
        tf = self.tf
        dims = [int(d) for d in layer.param("reshape_param").shape.dim]
        src = [1, int(x.shape[3]), int(x.shape[1]), int(x.shape[2])] \
            if len(x.shape) == 4 else [1, int(x.shape[1])]
        dims = [src[i] if d == 0 else d for i, d in enumerate(dims)]
        y = tf.reshape(self.nchw_flat(x), dims)
        if len(dims) == 2:
            return y
        dims += [1] * (4 - len(dims))
        return tf.transpose(tf.reshape(y, dims), [0, 2, 3, 1])

    def Dropout(self, layer, x):
        return x


def _multi(runner, layer, xs):
    """Layers with several bottoms or tops."""
    tf = runner.tf
    if layer.type == "Concat":
        p = layer.param("concat_param")
        axis = p.axis if p.HasField("axis") or not p.HasField(
            "concat_dim") else p.concat_dim
        return [tf.concat(xs, axis=_tf_axis(xs[0], axis))]
    if layer.type == "Eltwise":
        p = layer.param("eltwise_param")
        coeff = list(p.coeff) or [1.0] * len(xs)
        if p.operation == 1:
            return [sum(a * x for a, x in zip(coeff, xs))]
        fn = tf.multiply if p.operation == 0 else tf.maximum
        y = xs[0]
        for x in xs[1:]:
            y = fn(y, x)
        return [y]
    if layer.type == "Slice":
        p = layer.param("slice_param")
        axis = _tf_axis(xs[0], p.axis if p.HasField("axis") or not
                        p.HasField("slice_dim") else p.slice_dim)
        size = int(xs[0].shape[axis])
        points = list(p.slice_point) or [size // len(layer.top) * i for i in
                                         range(1, len(layer.top))]
        bounds = [0] + points + [size]
        return [tf.gather(xs[0], list(range(lo, hi)), axis=axis)
                for lo, hi in zip(bounds, bounds[1:])]
    if layer.type == "Crop":
        p = layer.param("crop_param")
        x, ref = xs
        start = p.axis + 4 if p.axis < 0 else p.axis
        begin, size = [0, 0, 0, 0], [int(d) for d in x.shape]
        for i, a in enumerate(range(start, 4)):
            off = list(p.offset)
            o = 0 if not off else (off[0] if len(off) == 1 else off[i])
            j = _AXES[4][a]
            begin[j], size[j] = int(o), int(ref.shape[j])
        return [tf.slice(x, begin, size)]
    if layer.type == "Split":
        return xs * len(layer.top)
    raise ReferenceError(f"layer type {layer.type} ({layer.name})")


def _input(net, layers):
    """(blob name, N,C,H,W dims) of the net's single input."""
    for layer in layers:
        if layer.type == "Input":
            return layer.top[0], list(layer.param("input_param").shape[0].dim)
    dims = net.input_shape[0].dim if net.input_shape else net.input_dim
    return net.input[0], [int(d) for d in dims]


def run_caffe_reference(prototxt, caffemodel, x_hwc):
    """The net's output for one H,W,C float32 input, in float32: (H, W, C)
    for a spatial output blob, a vector for a flat one."""
    from tfcompat import tf, tf1
    net = caffe_proto.parse_text(Path(prototxt).read_text())
    layers = caffe.layers_of(net)
    if caffemodel:
        caffe.attach_weights(layers, caffe_proto.parse_binary(
            Path(caffemodel).read_bytes()))
    name, dims = _input(net, layers)
    x = np.asarray(x_hwc, np.float32).reshape(dims[2], dims[3], dims[1])
    g = tf1.Graph()
    with g.as_default():
        runner = Runner(tf, bool(caffemodel))
        runner.blobs[name] = tf.constant(x[None])
        last = name
        for layer in layers:
            if layer.type == "Input":
                continue
            xs = [runner.blobs[b] for b in layer.bottom]
            single = getattr(Runner, layer.type, None)
            if single is not None and len(xs) == 1 and len(layer.top) <= 1:
                outs = [single(runner, layer, xs[0])]
            else:
                outs = _multi(runner, layer, xs)
            for top, t in zip(layer.top, outs):
                runner.blobs[top] = t
            last = layer.top[0]
        with tf1.Session(graph=g) as sess:
            out = sess.run(runner.blobs[last])
    return out[0] if out.ndim == 4 else out.reshape(-1)
