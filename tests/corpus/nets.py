"""Small networks in the TF 1.x idioms of public NCS projects (2017-2018).

Each function builds one network in the current default graph (the caller
sets the graph-level seed) and returns (input name, output name, idioms):
node names as ``mvNCCompile -in/-on`` takes them. Weights are seeded random
values scaled by fan-in (He for ReLU layers, LeCun before a softmax) so that
activations neither vanish nor saturate and the outputs say something.

Where TF 2.21 no longer emits what TF 1.x / Keras 2.x emitted (Keras 2.x
``Flatten``, TF 1.x ``slim.flatten``/``tf.layers.flatten``, Keras 2.x's
learning-phase ``Switch``/``Merge``), the net writes that op pattern
directly with the same TF ops, in the scopes the old code used.

``NETS`` lists them in order; ``spec(fn)`` says how to feed a net: the
input's value range and whether the Keras session saves it.
"""
from dataclasses import dataclass

import numpy as np

from tfcompat import slim, tf, tf1


@dataclass(frozen=True)
class Spec:
    low: float = 0.0          # input values, uniform in [low, high)
    high: float = 1.0
    integer: bool = False     # whole numbers (pixels 0..255)
    keras_session: bool = False   # saved from tf_keras' own session


NETS = []
_SPECS = {}


def net(**kwargs):
    def register(fn):
        NETS.append(fn)
        _SPECS[fn.__name__] = Spec(**kwargs)
        return fn
    return register


def spec(fn):
    return _SPECS[fn.__name__]


def by_name(name):
    return next(fn for fn in NETS if fn.__name__ == name)


# ---------------------------------------------------------------- helpers

def weight(shape, name="weights", gain=2.0):
    """A seeded weight variable, stddev sqrt(gain / fan_in)."""
    fan_in = int(np.prod(shape[:-1]))
    return tf1.Variable(tf1.truncated_normal(
        shape, stddev=float(np.sqrt(gain / fan_in))), name=name)


def bias(n, name="biases", scale=0.1):
    return tf1.Variable(tf1.random_uniform([n], -scale, scale), name=name)


def conv(x, k, cout, stride=1, padding="SAME", name="conv", gain=2.0):
    """tf.nn.conv2d + b, as the guides wrote it (Conv2D, then Add)."""
    cin = x.shape.as_list()[-1]
    with tf1.variable_scope(None, default_name=name):
        w = weight([k, k, cin, cout], gain=gain)
        return tf1.nn.conv2d(x, w, [1, stride, stride, 1], padding) \
            + bias(cout)


def fc(x, n, name="fc", gain=2.0):
    """tf.matmul(x, W) + b."""
    with tf1.variable_scope(None, default_name=name):
        return tf1.matmul(x, weight([x.shape.as_list()[-1], n],
                                    gain=gain)) + bias(n)


def pool(x, k=2, s=2, padding="SAME"):
    return tf1.nn.max_pool(x, [1, k, k, 1], [1, s, s, 1], padding)


def moments(c, name):
    """Seeded 'trained' batch-norm statistics as variables."""
    with tf1.variable_scope(name):
        return (tf1.Variable(tf1.random_uniform([c], -0.3, 0.3), name="mean"),
                tf1.Variable(tf1.random_uniform([c], 0.5, 2.0),
                             name="variance"),
                tf1.Variable(tf1.random_uniform([c], -0.2, 0.2), name="beta"),
                tf1.Variable(tf1.random_uniform([c], 0.7, 1.4), name="gamma"))


def keras2_flatten(x, scope):
    """Keras 2.x ``Flatten`` (K.batch_flatten): Shape -> StridedSlice [1:]
    -> Prod -> Pack([-1, n]) -> Reshape."""
    with tf1.name_scope(scope):
        shape = tf1.raw_ops.Shape(input=x, name="Shape")
        tail = tf1.strided_slice(shape, [1], [0], [1], end_mask=1,
                                 name="strided_slice")
        n = tf1.reduce_prod(tail, name="Prod")
        out = tf1.reshape(x, tf1.stack([-1, n], name="stack"),
                          name="Reshape")
    out.set_shape([None, int(np.prod(x.shape.as_list()[1:]))])  # as Keras
    return out


def layers_flatten_2018(x, scope):
    """tf.layers.flatten of TF 1.5-1.x: reshape(x, (shape(x)[0], -1)):
    Shape -> StridedSlice [0] -> Pack([b, -1]) -> Reshape."""
    with tf1.name_scope(scope):
        shape = tf1.raw_ops.Shape(input=x, name="Shape")
        batch = tf1.strided_slice(shape, [0], [1], [1], shrink_axis_mask=1,
                                  name="strided_slice")
        out = tf1.reshape(x, tf1.stack([batch, -1], name="Reshape/shape"),
                          name="Reshape")
    out.set_shape([None, int(np.prod(x.shape.as_list()[1:]))])
    return out


def slim_flatten_tf1(x, scope="Flatten"):
    """slim.flatten of TF 1.0-1.4 (contrib.layers.flatten): Shape, Slice
    [0:1] and [1:], Prod, ExpandDims, ConcatV2, Reshape."""
    rank = x.shape.ndims
    with tf1.name_scope(scope):
        shape = tf1.raw_ops.Shape(input=x, name="Shape")
        batch_dim = tf1.slice(shape, [0], [1], name="Slice")
        spatial = tf1.slice(shape, [1], [rank - 1], name="Slice_1")
        flat = tf1.expand_dims(tf1.reduce_prod(spatial, [0], name="Prod"),
                               0, name="ExpandDims")
        out = tf1.reshape(x, tf1.concat([batch_dim, flat], 0,
                                        name="concat"), name="Reshape")
    out.set_shape([None, int(np.prod(x.shape.as_list()[1:]))])
    return out


def keras_learning_phase():
    """Keras 2.1+'s learning phase: a bool PlaceholderWithDefault(False)."""
    return tf1.placeholder_with_default(False, shape=(),
                                        name="keras_learning_phase")


# ---------------------------------------------------------------- networks

@net()
def mnist_deep():
    """The NCSDK guide's MNIST (mnist_deep.py), inference version: flat
    [None, 784] input, reshape to an image, conv/pool twice, fc, dropout
    with keep_prob fixed to 1.0, softmax named 'output'."""
    x = tf1.placeholder(tf1.float32, [None, 784], name="input")
    image = tf1.reshape(x, [-1, 28, 28, 1])
    h = pool(tf1.nn.relu(conv(image, 5, 8, name="conv1")))
    h = pool(tf1.nn.relu(conv(h, 5, 16, name="conv2")))
    h = tf1.reshape(h, [-1, 7 * 7 * 16])
    h = tf1.nn.relu(fc(h, 64, name="fc1"))
    h = tf1.nn.dropout(h, keep_prob=1.0)
    tf1.nn.softmax(fc(h, 10, name="fc2", gain=1.0), name="output")
    return "input", "output", [
        "2-D input [?, 784]", "tf.reshape(x, [-1, 28, 28, 1])",
        "conv2d + b", "matmul + b", "dropout keep_prob=1.0",
        "softmax 'output'"]


@net()
def layers_cnn():
    """A tf.layers CNN (the TF 'layers' tutorial): conv2d with activation,
    max_pooling2d, flatten, dense, dropout(training=False)."""
    from tf_keras.src.legacy_tf_layers import convolutional, core, pooling

    x = tf1.placeholder(tf1.float32, [None, 28, 28, 1], name="input")
    init = tf1.variance_scaling_initializer(2.0)
    binit = tf1.random_uniform_initializer(-0.1, 0.1)
    h = convolutional.conv2d(x, 8, 5, padding="same", activation=tf1.nn.relu,
                             kernel_initializer=init, bias_initializer=binit,
                             name="conv1")
    h = pooling.max_pooling2d(h, 2, 2, name="pool1")
    h = convolutional.conv2d(h, 16, 3, padding="same",
                             activation=tf1.nn.relu, kernel_initializer=init,
                             bias_initializer=binit, name="conv2")
    h = pooling.max_pooling2d(h, 2, 2, name="pool2")
    h = core.flatten(h, name="flatten")
    h = core.dense(h, 32, activation=tf1.nn.relu, kernel_initializer=init,
                   bias_initializer=binit, name="dense")
    h = core.dropout(h, rate=0.4, training=False, name="dropout")
    logits = core.dense(h, 10, bias_initializer=binit, name="logits")
    tf1.nn.softmax(logits, name="probabilities")
    return "input", "probabilities", [
        "tf.layers conv2d/max_pooling2d/dense", "tf.layers.flatten (TF 2.21)",
        "tf.layers.dropout training=False"]


@net()
def layers_flatten_2018_cnn():
    """The same kind of tf.layers CNN as TF 1.5-1.x emitted its flatten:
    reshape(x, (tf.shape(x)[0], -1))."""
    x = tf1.placeholder(tf1.float32, [None, 32, 32, 3], name="input")
    h = pool(tf1.nn.relu(conv(x, 3, 8, name="conv1")))
    h = pool(tf1.nn.relu(conv(h, 3, 16, name="conv2")))
    h = layers_flatten_2018(h, "flatten")
    h = tf1.nn.relu(fc(h, 32, name="dense"))
    tf1.nn.softmax(fc(h, 10, name="logits", gain=1.0), name="output")
    return "input", "output", [
        "tf.layers.flatten TF 1.x: Shape/StridedSlice/Pack/Reshape"]


@net()
def slim_net():
    """A tf_slim net (slim walkthrough style): arg_scope over conv2d with
    batch_norm, max_pool2d, TF 1.x slim.flatten, fully_connected, dropout,
    softmax 'Predictions'."""
    x = tf1.placeholder(tf1.float32, [None, 32, 32, 3], name="input")
    with slim.arg_scope([slim.conv2d, slim.fully_connected],
                        weights_initializer=tf1.variance_scaling_initializer(
                            2.0),
                        biases_initializer=tf1.random_uniform_initializer(
                            -0.1, 0.1)):
        with slim.arg_scope([slim.conv2d], normalizer_fn=slim.batch_norm,
                            normalizer_params={"is_training": False,
                                               "scale": True}):
            h = slim.conv2d(x, 8, [3, 3], scope="conv1")
            h = slim.max_pool2d(h, [2, 2], scope="pool1")
            h = slim.conv2d(h, 16, [3, 3], scope="conv2")
            h = slim.max_pool2d(h, [2, 2], scope="pool2")
        h = slim_flatten_tf1(h)
        h = slim.fully_connected(h, 32, scope="fc3")
        h = slim.dropout(h, 0.5, is_training=False, scope="dropout3")
        logits = slim.fully_connected(h, 10, activation_fn=None,
                                      scope="fc4")
    tf1.nn.softmax(logits, name="Predictions")
    return "input", "Predictions", [
        "slim.conv2d + slim.batch_norm (is_training=False)",
        "slim.flatten TF 1.x: Shape/Slice/Prod/ExpandDims/ConcatV2/Reshape",
        "slim.fully_connected", "slim.dropout is_training=False"]


def _randomise_batch_norm(model):
    """Give Keras BN layers 'trained' statistics (seeded)."""
    rng = np.random.default_rng(11)
    import tf_keras
    for layer in model.layers:
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.7, 1.4, c), rng.uniform(-.2, .2, c),
                               rng.uniform(-.3, .3, c), rng.uniform(.5, 2, c)])


@net(keras_session=True)
def keras_sequential():
    """A tf_keras Sequential CNN built in graph mode with learning phase 0,
    saved from Keras' own session (K.get_session()) with a Saver."""
    import tf_keras
    from tf_keras import layers as KL

    tf_keras.backend.set_learning_phase(0)
    seeds = iter(range(100, 200))

    def init():
        return tf_keras.initializers.VarianceScaling(2.0, seed=next(seeds))

    def binit():
        return tf_keras.initializers.RandomUniform(-0.1, 0.1,
                                                   seed=next(seeds))

    model = tf_keras.Sequential([
        KL.Conv2D(8, 3, padding="same", activation="relu",
                  kernel_initializer=init(), bias_initializer=binit(),
                  input_shape=(28, 28, 1), name="conv2d_1"),
        KL.BatchNormalization(name="batch_normalization_1"),
        KL.MaxPooling2D(2, name="max_pooling2d_1"),
        KL.Conv2D(16, 3, activation="relu", kernel_initializer=init(),
                  bias_initializer=binit(), name="conv2d_2"),
        KL.MaxPooling2D(2, name="max_pooling2d_2"),
        KL.Flatten(name="flatten_1"),
        KL.Dense(32, activation="relu", kernel_initializer=init(),
                 bias_initializer=binit(), name="dense_1"),
        KL.Dropout(0.5, name="dropout_1"),
        KL.Dense(10, activation="softmax", bias_initializer=binit(),
                 name="dense_2"),
    ])
    from tf_keras.src import backend as K
    K.get_session()     # initialises the variables
    _randomise_batch_norm(model)
    return model.input.op.name, model.output.op.name, [
        "tf_keras Sequential, learning phase 0", "Keras Conv2D+BiasAdd+Relu",
        "Keras BatchNormalization (fused)", "Keras Flatten (TF 2.21)",
        "Keras Dropout", "resource variables", "K.get_session() + Saver"]


@net()
def keras2_flatten_cnn():
    """What a Keras 2.x (2018) Sequential CNN froze to: Conv2D/BiasAdd/Relu
    in 'conv2d_1/' scopes, MaxPool, the Keras 2.x Flatten pattern
    (Shape/StridedSlice/Prod/Pack/Reshape), Dense as MatMul/BiasAdd."""
    x = tf1.placeholder(tf1.float32, [None, 28, 28, 1], name="conv2d_1_input")

    def keras_conv(h, k, cout, scope):
        with tf1.variable_scope(scope):
            w = weight([k, k, h.shape.as_list()[-1], cout], name="kernel")
            h = tf1.nn.conv2d(h, w, [1, 1, 1, 1], "VALID",
                              name="convolution")
            return tf1.nn.relu(tf1.nn.bias_add(h, bias(cout, "bias")),
                               name="Relu")

    def keras_dense(h, n, scope, activation):
        with tf1.variable_scope(scope):
            w = weight([h.shape.as_list()[-1], n], name="kernel",
                       gain=2.0 if activation is tf1.nn.relu else 1.0)
            h = tf1.nn.bias_add(tf1.matmul(h, w, name="MatMul"),
                                bias(n, "bias"), name="BiasAdd")
            return activation(h, name=activation.__name__.capitalize())

    h = keras_conv(x, 3, 8, "conv2d_1")
    h = tf1.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID",
                        name="max_pooling2d_1/MaxPool")
    h = keras_conv(h, 3, 16, "conv2d_2")
    h = tf1.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID",
                        name="max_pooling2d_2/MaxPool")
    h = keras2_flatten(h, "flatten_1")
    h = keras_dense(h, 32, "dense_1", tf1.nn.relu)
    keras_dense(h, 10, "dense_2", tf1.nn.softmax)
    return "conv2d_1_input", "dense_2/Softmax", [
        "Keras 2.x Flatten: Shape/StridedSlice/Prod/Pack/Reshape",
        "Conv2D+BiasAdd+Relu (Keras scopes)", "MatMul+BiasAdd"]


@net(high=256.0, integer=True)
def pilotnet():
    """NVIDIA's PilotNet as the 2017 TF ports wrote it (66x200x3 input,
    x / 127.5 - 1 in the graph, five convs, flatten, four fc, steering =
    2 * tanh). Narrower layers than the paper."""
    x = tf1.placeholder(tf1.float32, [None, 66, 200, 3], name="x")
    h = x / 127.5 - 1.0
    h = tf1.nn.relu(conv(h, 5, 8, 2, "VALID", name="conv1"))
    h = tf1.nn.relu(conv(h, 5, 12, 2, "VALID", name="conv2"))
    h = tf1.nn.relu(conv(h, 5, 16, 2, "VALID", name="conv3"))
    h = tf1.nn.relu(conv(h, 3, 24, 1, "VALID", name="conv4"))
    h = tf1.nn.relu(conv(h, 3, 24, 1, "VALID", name="conv5"))   # 1x18x24
    h = tf1.reshape(h, [-1, 1 * 18 * 24])
    h = tf1.nn.relu(fc(h, 50, name="fc1"))
    h = tf1.nn.relu(fc(h, 25, name="fc2"))
    h = tf1.nn.relu(fc(h, 10, name="fc3"))
    tf1.multiply(tf1.tanh(fc(h, 1, name="fc4", gain=1.0)), 2.0,
                 name="steering")
    return "x", "steering", [
        "non-square 66x200 input", "x / 127.5 - 1.0 in the graph",
        "strided VALID convs", "reshape [-1, 432]", "tanh * 2 output"]


@net()
def batch4_cnn():
    """A 108x108 greyscale CNN whose placeholder has batch 4 (a training
    batch size left in the inference graph); NCSDK compiled it as batch 1."""
    x = tf1.placeholder(tf1.float32, [4, 108, 108, 1], name="input")
    h = pool(tf1.nn.relu(conv(x, 5, 8, 2, name="conv1")))       # 27x27
    h = pool(tf1.nn.relu(conv(h, 3, 16, name="conv2")))         # 14x14
    h = tf1.reshape(h, [-1, 14 * 14 * 16])
    h = tf1.nn.relu(fc(h, 32, name="fc1"))
    tf1.nn.softmax(fc(h, 5, name="fc2", gain=1.0), name="output")
    return "input", "output", ["placeholder batch 4", "reshape [-1, n]"]


@net(low=-1.0)
def mlp_100():
    """A plain MLP on a [None, 100] feature vector."""
    x = tf1.placeholder(tf1.float32, [None, 100], name="input")
    h = tf1.nn.relu(fc(x, 64, name="hidden1"))
    h = tf1.nn.sigmoid(fc(h, 32, name="hidden2", gain=1.0))
    tf1.nn.softmax(fc(h, 10, name="out", gain=4.0), name="output")
    return "input", "output", ["2-D input [?, 100]", "matmul + b",
                               "sigmoid"]


@net()
def autoencoder_deconv():
    """A convolutional autoencoder: two strided convs down, two
    conv2d_transpose up with output_shape built at run time with tf.stack
    from tf.shape(x)[0] (and tf.shape(h)[1] * 2 in the second)."""
    x = tf1.placeholder(tf1.float32, [None, 32, 32, 1], name="input")
    h1 = tf1.nn.relu(conv(x, 3, 8, 2, name="enc1"))            # 16x16x8
    h2 = tf1.nn.relu(conv(h1, 3, 16, 2, name="enc2"))          # 8x8x16
    batch = tf1.shape(x)[0]
    _, h, w, _ = h2.shape.as_list()
    with tf1.variable_scope("dec1"):
        wt = weight([3, 3, 8, 16])
        d1 = tf1.nn.conv2d_transpose(
            h2, wt, tf1.stack([batch, 2 * h, 2 * w, 8]), [1, 2, 2, 1],
            "SAME")
        d1 = tf1.nn.relu(d1 + bias(8))
    with tf1.variable_scope("dec2"):
        wt = weight([3, 3, 1, 8])
        shape = tf1.shape(d1)
        d2 = tf1.nn.conv2d_transpose(
            d1, wt, tf1.stack([tf1.shape(d1)[0], shape[1] * 2,
                               shape[2] * 2, 1]), [1, 2, 2, 1], "SAME")
    tf1.nn.sigmoid(d2 + bias(1), name="output")
    return "input", "output", [
        "conv2d_transpose, output_shape tf.stack([tf.shape(x)[0], 2*h, 2*w,"
        " c])", "output_shape from tf.shape(h)[1] * 2", "sigmoid image out"]


@net(low=-1.0)
def leaky_yolo_tiny():
    """A YOLO-tiny-like stack (darkflow style): conv, leaky ReLU as
    tf.nn.leaky_relu(0.1) and as tf.maximum(0.1 * x, x) / tf.maximum(x,
    0.1 * x), max pools, a 1x1 detection conv."""
    x = tf1.placeholder(tf1.float32, [None, 64, 64, 3], name="input")
    h = pool(tf1.nn.leaky_relu(conv(x, 3, 8, name="conv1"), alpha=0.1))
    h = conv(h, 3, 16, name="conv2")
    h = pool(tf1.maximum(0.1 * h, h))
    h = conv(h, 3, 16, name="conv3")
    h = pool(tf1.maximum(h, h * 0.1, name="leaky3"))
    tf1.identity(conv(h, 1, 12, name="detect", gain=1.0), name="output")
    return "input", "output", [
        "tf.nn.leaky_relu", "tf.maximum(0.1 * x, x)", "tf.maximum(x, x * 0.1)",
        "1x1 conv + b output"]


@net()
def relu6_mobilenet():
    """A small MobileNet-style net from 2018 ports: depthwise + pointwise,
    ReLU6 as tf.minimum(tf.nn.relu(x), 6) and as Keras 2.x's
    K.relu(x, max_value=6) (Relu, then clip_by_value: Minimum, Maximum),
    Keras MobileNet's ZeroPadding2D before the strided VALID conv."""
    x = tf1.placeholder(tf1.float32, [None, 32, 32, 3], name="input")
    h = tf1.pad(x, [[0, 0], [0, 1], [0, 1], [0, 0]], name="conv1_pad")
    h = conv(h, 3, 8, 2, "VALID", name="conv0") * 4.0
    h = tf1.minimum(tf1.nn.relu(h), 6.0)
    with tf1.variable_scope("dw1"):
        dw = weight([3, 3, 8, 1])
        h = tf1.nn.depthwise_conv2d(h, dw, [1, 1, 1, 1], "SAME") + bias(8)
    h = tf1.clip_by_value(tf1.nn.relu(h), 0.0, 6.0)
    h = tf1.minimum(tf1.nn.relu(conv(h, 1, 16, name="pw1")), 6.0)
    h = tf1.reduce_mean(h, [1, 2])
    tf1.nn.softmax(fc(h, 10, name="logits", gain=4.0), name="output")
    return "input", "output", [
        "tf.minimum(tf.nn.relu(x), 6)", "Keras relu6: clip_by_value",
        "Keras ZeroPadding2D: tf.pad + VALID strided conv",
        "depthwise_conv2d + b", "scalar Mul (x * 4.0)",
        "reduce_mean(x, [1, 2])"]


@net(high=256.0, integer=True)
def preprocess_in_graph():
    """Pixels 0..255 in; the graph does x / 255.0 - 0.5 (RealDiv, Sub by a
    scalar), then a small CNN ending in a global average pool."""
    x = tf1.placeholder(tf1.float32, [None, 48, 48, 3], name="input")
    h = x / 255.0 - 0.5
    h = pool(tf1.nn.relu(conv(h, 3, 8, name="conv1", gain=8.0)))
    h = pool(tf1.nn.relu(conv(h, 3, 16, name="conv2")))
    h = tf1.reduce_mean(h, [1, 2])
    tf1.nn.softmax(fc(h, 10, name="fc", gain=1.0) * 2.0, name="output")
    return "input", "output", ["x / 255.0 - 0.5", "RealDiv by scalar",
                               "Sub scalar", "Mul of logits by scalar"]


@net(high=256.0, integer=True)
def vgg_mean_sub():
    """VGG-style in-graph preprocessing: subtract the per-channel ImageNet
    mean (tf.constant([123.68, 116.78, 103.94])) and scale by 0.017."""
    x = tf1.placeholder(tf1.float32, [None, 40, 40, 3], name="input")
    h = (x - tf1.constant([123.68, 116.78, 103.94])) * 0.017
    h = tf1.nn.relu(conv(h, 3, 8, name="conv1_1"))
    h = pool(tf1.nn.relu(conv(h, 3, 8, name="conv1_2")))
    h = pool(tf1.nn.relu(conv(h, 3, 16, name="conv2_1")))
    h = tf1.reshape(h, [-1, 10 * 10 * 16])
    tf1.nn.softmax(fc(h, 10, name="fc8", gain=1.0), name="prob")
    return "input", "prob", ["per-channel Sub of a constant mean",
                             "Mul by scalar 0.017"]


@net(low=-1.0)
def unfused_batchnorm():
    """Batch norm written out: tf.nn.batch_normalization with 'trained'
    moments held in variables, and by hand (x - mean) / sqrt(var + eps) *
    gamma + beta."""
    x = tf1.placeholder(tf1.float32, [None, 24, 24, 3], name="input")
    h = conv(x, 3, 8, name="conv1")
    mean, var, beta, gamma = moments(8, "bn1")
    h = tf1.nn.relu(tf1.nn.batch_normalization(h, mean, var, beta, gamma,
                                               1e-3))
    h = pool(h)
    h = conv(h, 3, 16, name="conv2")
    mean, var, beta, gamma = moments(16, "bn2")
    h = (h - mean) / tf1.sqrt(var + 1e-5) * gamma + beta
    h = pool(tf1.nn.relu(h))
    h = tf1.reduce_mean(h, [1, 2])
    tf1.nn.softmax(fc(h, 10, name="fc", gain=1.0), name="output")
    return "input", "output", [
        "tf.nn.batch_normalization (Rsqrt/Mul/Sub/Add)",
        "hand BN: (x - m) / sqrt(v + eps) * g + b", "per-channel Sub/RealDiv"]


@net()
def alexnet_groups():
    """An AlexNet-style net as the 2017 finetune ports wrote it: channel
    slice x[..., :1] style inputs, grouped conv via tf.split + tf.concat,
    LRN, tf.nn.xw_plus_b."""
    x = tf1.placeholder(tf1.float32, [None, 36, 36, 4], name="input")
    rgb = x[..., :3]
    depth = x[..., 3:]
    h = tf1.concat([conv(rgb, 3, 6, name="conv_rgb"),
                    conv(depth, 3, 2, name="conv_depth")], 3)
    h = tf1.nn.local_response_normalization(tf1.nn.relu(h), 2, 1.0, 1e-4,
                                            0.75)
    h = pool(h, 3, 2, "VALID")                                  # 17x17x8
    a, b = tf1.split(h, 2, axis=3)
    h = tf1.nn.relu(tf1.concat([conv(a, 3, 8, name="conv2_1"),
                                conv(b, 3, 8, name="conv2_2")], 3))
    h = pool(h, 3, 2, "VALID")                                  # 8x8x16
    first = h[:, :, :, :1]
    h = tf1.concat([h, first], 3)
    h = tf1.reshape(h, [-1, 8 * 8 * 17])
    with tf1.variable_scope("fc6"):
        h = tf1.nn.relu(tf1.nn.xw_plus_b(h, weight([8 * 8 * 17, 32]),
                                         bias(32)))
    with tf1.variable_scope("fc7"):
        logits = tf1.nn.xw_plus_b(h, weight([32, 10], gain=1.0), bias(10))
    tf1.nn.softmax(logits, name="output")
    return "input", "output", [
        "channel slice x[..., :3] / x[..., 3:] / h[:, :, :, :1]",
        "tf.split + tf.concat (grouped conv)", "LRN", "tf.nn.xw_plus_b"]


@net(low=-1.0)
def addn_resnet():
    """Residual blocks joined with tf.add_n and with '+'."""
    x = tf1.placeholder(tf1.float32, [None, 24, 24, 3], name="input")
    h = tf1.nn.relu(conv(x, 3, 16, name="stem"))
    r = conv(tf1.nn.relu(conv(h, 3, 16, name="res1a")), 3, 16, name="res1b",
             gain=1.0)
    h = tf1.nn.relu(tf1.add_n([h, r]))
    r = conv(tf1.nn.relu(conv(h, 3, 16, name="res2a")), 3, 16, name="res2b",
             gain=1.0)
    s = conv(h, 1, 16, name="shortcut", gain=1.0)
    h = tf1.nn.relu(tf1.add_n([h, r, s]))
    h = tf1.nn.relu(h + conv(h, 3, 16, name="res3", gain=1.0))
    h = tf1.reduce_mean(h, [1, 2])
    tf1.nn.softmax(fc(h, 10, name="fc", gain=1.0), name="output")
    return "input", "output", ["tf.add_n of 2 and 3 tensors",
                               "eltwise '+' residual"]


@net()
def square_neg_abs():
    """Edge features: a gradient conv split into gx, gy; |gx| + |gy|
    (Abs) and gx^2 + gy^2 (Square); then CReLU written out as
    concat(relu(h), relu(-h)) (Neg)."""
    x = tf1.placeholder(tf1.float32, [None, 32, 32, 1], name="input")
    g = conv(x, 3, 2, name="grad", gain=4.0)
    gx, gy = tf1.split(g, 2, axis=3)
    mag = tf1.abs(gx) + tf1.abs(gy)
    energy = tf1.square(gx) + tf1.square(gy)
    h = tf1.concat([mag, energy], 3)
    h = pool(conv(h, 3, 8, name="conv1"))
    h = tf1.concat([tf1.nn.relu(h), tf1.nn.relu(tf1.negative(h))], 3)
    h = pool(tf1.nn.relu(conv(h, 3, 16, name="conv2")))
    h = tf1.reduce_mean(h, [1, 2])
    tf1.nn.softmax(fc(h, 10, name="fc", gain=1.0), name="output")
    return "input", "output", ["tf.abs", "tf.square", "tf.negative (CReLU)",
                               "tf.split on channels"]


@net()
def identity_chains():
    """Fine-tuning leftovers: tf.stop_gradient on frozen features,
    tf.identity renames, tf.identity_n, a control dependency on a NoOp."""
    x = tf1.placeholder(tf1.float32, [None, 28, 28, 3], name="input")
    h = tf1.identity(x, name="image")
    h = pool(tf1.nn.relu(conv(h, 3, 8, name="conv1")))
    h = tf1.stop_gradient(h, name="frozen_features")
    h = tf1.identity(tf1.identity(h, name="features"), name="features_2")
    a, b = tf1.identity_n([h, tf1.nn.relu(conv(h, 3, 8, name="conv2"))])
    ready = tf1.no_op(name="ready")
    with tf1.control_dependencies([ready]):
        h = tf1.identity(a + b, name="joined")
    h = pool(h)
    h = tf1.reshape(h, [-1, 7 * 7 * 8])
    logits = tf1.identity(fc(h, 10, name="fc", gain=1.0), name="logits")
    tf1.nn.softmax(logits, name="output")
    return "input", "output", ["tf.identity chains", "tf.stop_gradient",
                               "tf.identity_n (IdentityN)",
                               "control dependency on NoOp"]


@net()
def keras_switch_merge():
    """What a Keras 2.1 model froze to: 'keras_learning_phase'
    PlaceholderWithDefault(False); BatchNormalization and Dropout as
    K.in_train_phase = tf.cond -> Switch/Merge (the inference branch of BN
    is tf.nn.batch_normalization, unfused, as Keras 2.1 wrote it)."""
    x = tf1.placeholder(tf1.float32, [None, 28, 28, 1], name="input_1")
    phase = keras_learning_phase()
    with tf1.variable_scope("conv2d_1"):
        w = weight([3, 3, 1, 8], name="kernel")
        h = tf1.nn.bias_add(tf1.nn.conv2d(x, w, [1, 1, 1, 1], "SAME",
                                          name="convolution"),
                            bias(8, "bias"))
    with tf1.variable_scope("batch_normalization_1"):
        mean, var, beta, gamma = moments(8, "stats")

        def training():
            m, v = tf1.nn.moments(h, [0, 1, 2])
            return tf1.nn.batch_normalization(h, m, v, beta, gamma, 1e-3)

        def inference():
            return tf1.nn.batch_normalization(h, mean, var, beta, gamma,
                                              1e-3)

        h = tf1.cond(phase, training, inference, name="cond")
    h = tf1.nn.relu(h, name="activation_1/Relu")
    h = tf1.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID",
                        name="max_pooling2d_1/MaxPool")
    h = keras2_flatten(h, "flatten_1")
    with tf1.variable_scope("dense_1"):
        h = tf1.nn.relu(tf1.nn.bias_add(
            tf1.matmul(h, weight([14 * 14 * 8, 32], name="kernel")),
            bias(32, "bias")))
    with tf1.variable_scope("dropout_1"):
        h = tf1.cond(phase, lambda: tf1.nn.dropout(h, rate=0.5),
                     lambda: h, name="cond")
    with tf1.variable_scope("dense_2"):
        h = tf1.nn.softmax(tf1.nn.bias_add(
            tf1.matmul(h, weight([32, 10], name="kernel", gain=1.0)),
            bias(10, "bias")), name="Softmax")
    return "input_1", h.op.name, [
        "keras_learning_phase PlaceholderWithDefault",
        "Switch/Merge (K.in_train_phase)", "Keras 2.1 unfused BN",
        "Keras 2.x Flatten", "Dropout under cond"]


@net()
def squeezenet_head():
    """SqueezeNet-style fire modules (squeeze 1x1, expand 1x1 + 3x3,
    concat), a 1x1 class conv, global mean with keep_dims=True,
    tf.squeeze([1, 2]) and softmax."""
    x = tf1.placeholder(tf1.float32, [None, 32, 32, 3], name="input")
    h = pool(tf1.nn.relu(conv(x, 3, 16, 2, name="conv1")), 3, 2)

    def fire(h, s, e, name):
        with tf1.variable_scope(name):
            sq = tf1.nn.relu(conv(h, 1, s, name="squeeze1x1"))
            return tf1.concat([tf1.nn.relu(conv(sq, 1, e, name="expand1x1")),
                               tf1.nn.relu(conv(sq, 3, e, name="expand3x3"))],
                              3)

    h = fire(h, 4, 8, "fire2")
    h = fire(h, 4, 8, "fire3")
    h = pool(h, 3, 2)
    with tf1.variable_scope("fire4"):     # Keras Concatenate(axis=-1)
        sq = tf1.nn.relu(conv(h, 1, 8, name="squeeze1x1"))
        h = tf1.concat([tf1.nn.relu(conv(sq, 1, 16, name="expand1x1")),
                        tf1.nn.relu(conv(sq, 3, 16, name="expand3x3"))], -1)
    h = tf1.nn.relu(conv(h, 1, 10, name="conv10", gain=32.0))
    h = tf1.reduce_mean(h, [1, 2], keepdims=True)
    tf1.nn.softmax(tf1.squeeze(h, [1, 2]), name="output")
    return "input", "output", ["fire modules (concat)",
                               "concat axis=-1",
                               "reduce_mean keep_dims=True",
                               "tf.squeeze([1, 2]) + softmax"]


@net(low=-1.0)
def gap_classifier():
    """Conv + fused batch norm (tf.nn.fused_batch_norm, is_training=False)
    + ReLU twice, global average pool tf.reduce_mean(x, [1, 2]), fc."""
    x = tf1.placeholder(tf1.float32, [None, 20, 20, 3], name="input")
    h = x
    for i, c in enumerate((8, 16), 1):
        with tf1.variable_scope(f"block{i}"):
            w = weight([3, 3, h.shape.as_list()[-1], c])
            h = tf1.nn.conv2d(h, w, [1, 1, 1, 1], "SAME")
            mean, var, beta, gamma = moments(c, "bn")
            h, _, _ = tf1.nn.fused_batch_norm(h, gamma, beta, mean, var,
                                              is_training=False)
            h = pool(tf1.nn.relu(h))
    h = tf1.reduce_mean(h, [1, 2])
    tf1.nn.softmax(fc(h, 10, name="fc", gain=1.0), name="output")
    return "input", "output", ["conv without bias + fused_batch_norm",
                               "global average pool reduce_mean([1, 2])"]


@net(low=-1.0)
def sub_mul_ops():
    """Per-channel arithmetic people wrote by hand: conv * scale + shift as
    tf.multiply / tf.add with [C] vectors, tf.subtract of a scalar, tanh,
    and the user-code flatten tf.reshape(h, [tf.shape(h)[0], -1])."""
    x = tf1.placeholder(tf1.float32, [None, 24, 24, 3], name="input")
    h = conv(x, 3, 8, name="conv1")
    scale = tf1.Variable(tf1.random_uniform([8], 0.5, 1.5), name="scale")
    shift = tf1.Variable(tf1.random_uniform([8], -0.2, 0.2), name="shift")
    h = tf1.add(tf1.multiply(h, scale), shift)
    h = pool(tf1.nn.relu(tf1.subtract(h, 0.05)))
    h = tf1.tanh(conv(h, 3, 16, name="conv2", gain=1.0))
    h = pool(h)
    h = tf1.reshape(h, [tf1.shape(h)[0], -1])
    h.set_shape([None, 6 * 6 * 16])
    tf1.nn.softmax(fc(h, 10, name="fc", gain=1.0), name="output")
    return "input", "output", ["tf.multiply/tf.add by [C] vectors",
                               "tf.subtract scalar", "tanh",
                               "reshape(h, [tf.shape(h)[0], -1])"]


@net()
def is_training_placeholder():
    """A training script's graph saved as is: an is_training
    PlaceholderWithDefault(False) for slim.batch_norm (smart_cond becomes
    tf.cond: Switch/Merge around FusedBatchNorm), dropout keep_prob 1.0."""
    x = tf1.placeholder(tf1.float32, [None, 28, 28, 1], name="input")
    is_training = tf1.placeholder_with_default(False, [], name="is_training")
    h = slim.conv2d(x, 8, [3, 3], normalizer_fn=slim.batch_norm,
                    normalizer_params={"is_training": is_training},
                    weights_initializer=tf1.variance_scaling_initializer(2.0),
                    scope="conv1")
    h = pool(h)
    h = tf1.reshape(h, [-1, 14 * 14 * 8])
    h = tf1.nn.relu(fc(h, 32, name="fc1"))
    h = tf1.nn.dropout(h, keep_prob=1.0)
    tf1.nn.softmax(fc(h, 10, name="fc2", gain=1.0), name="output")
    return "input", "output", [
        "slim.batch_norm, is_training PlaceholderWithDefault(False): "
        "Switch/Merge"]


@net(high=256.0, integer=True)
def commaai_steering():
    """comma.ai's 2016 steering model as a Keras 2.x graph froze: Lambda
    x / 127.5 - 1, 8x8/4 and 5x5/2 convs with ELU, Keras 2.x Flatten,
    Dropout under the keras_learning_phase cond, ELU on the flat vector,
    Dense 1. Narrower layers than the original, 80x160 input."""
    x = tf1.placeholder(tf1.float32, [None, 80, 160, 3],
                        name="lambda_1_input")
    phase = keras_learning_phase()
    h = tf1.subtract(tf1.divide(x, 127.5), 1.0, name="lambda_1/sub")

    def keras_conv(h, k, cout, stride, scope):
        with tf1.variable_scope(scope):
            w = weight([k, k, h.shape.as_list()[-1], cout], name="kernel",
                       gain=1.5)
            h = tf1.nn.conv2d(h, w, [1, stride, stride, 1], "SAME",
                              name="convolution")
            return tf1.nn.bias_add(h, bias(cout, "bias"), name="BiasAdd")

    def dropout(h, scope):
        with tf1.variable_scope(scope):
            return tf1.cond(phase, lambda: tf1.nn.dropout(h, rate=0.5),
                            lambda: h, name="cond")

    h = tf1.nn.elu(keras_conv(h, 8, 8, 4, "conv2d_1"), name="elu_1/Elu")
    h = tf1.nn.elu(keras_conv(h, 5, 16, 2, "conv2d_2"), name="elu_2/Elu")
    h = keras_conv(h, 5, 32, 2, "conv2d_3")                    # 5x10x32
    h = keras2_flatten(h, "flatten_1")
    h = tf1.nn.elu(dropout(h, "dropout_1"), name="elu_3/Elu")
    with tf1.variable_scope("dense_1"):
        h = tf1.nn.bias_add(tf1.matmul(h, weight([5 * 10 * 32, 64],
                                                 name="kernel")),
                            bias(64, "bias"))
    h = tf1.nn.elu(dropout(h, "dropout_2"), name="elu_4/Elu")
    with tf1.variable_scope("dense_2"):
        out = tf1.nn.bias_add(tf1.matmul(h, weight([64, 1], name="kernel",
                                                   gain=1.0)),
                              bias(1, "bias"), name="BiasAdd")
    return "lambda_1_input", out.op.name, [
        "Keras Lambda x / 127.5 - 1 (RealDiv, Sub)", "ELU on conv and on fc",
        "Keras 2.x Flatten", "Dropout under keras_learning_phase cond",
        "single steering value out"]
