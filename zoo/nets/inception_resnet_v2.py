"""Inception-ResNet v2 (Szegedy et al. 2016, arXiv:1602.07261) in TF-Slim.

Written to reproduce the TF-Slim Model Zoo graph exactly: the released
checkpoint is looked up by variable name, so names, shapes and creation order
must match ``research/slim/nets/inception_resnet_v2.py``.
"""
from tfcompat import tf, tf1, slim
from zoo.nets.inception_utils import branches as _branches
from zoo.nets.inception_utils import conv as _conv
from zoo.nets.inception_utils import fc_logits

_POOL_AND_CONV = [slim.conv2d, slim.max_pool2d, slim.avg_pool2d]


def _chain(net, layers):
    """Apply stride-1 convs given as (depth, kernel, name) in order."""
    for depth, kernel, name in layers:
        net = _conv(net, depth, kernel, name)
    return net


def _residual(net, mixed, scale, activation_fn):
    """Project the branches back to the input depth (a 1x1 conv with biases
    and no BatchNorm), scale it down for stable training, add, activate."""
    up = _conv(mixed, net.get_shape()[3], 1, "Conv2d_1x1",
               normalizer_fn=None, activation_fn=None)
    scaled_up = up * scale
    if activation_fn == tf.nn.relu6:
        scaled_up = tf.clip_by_value(scaled_up, -6.0, 6.0)
    net += scaled_up
    if activation_fn:
        net = activation_fn(net)
    return net


# The three residual blocks. Their function names matter: slim.repeat
# names the repeated scopes block35_1, block35_2, ... after them.

def block35(net, scale=1.0, activation_fn=tf.nn.relu, scope=None, reuse=None):
    """35x35 residual block (Inception-ResNet-A)."""
    with tf1.variable_scope(scope, "Block35", [net], reuse=reuse):
        mixed = _branches(
            net,
            lambda x: _conv(x, 32, 1, "Conv2d_1x1"),
            lambda x: _chain(x, [(32, 1, "Conv2d_0a_1x1"), (32, 3, "Conv2d_0b_3x3")]),
            lambda x: _chain(x, [(32, 1, "Conv2d_0a_1x1"), (48, 3, "Conv2d_0b_3x3"),
                                 (64, 3, "Conv2d_0c_3x3")]))
        return _residual(net, mixed, scale, activation_fn)


def block17(net, scale=1.0, activation_fn=tf.nn.relu, scope=None, reuse=None):
    """17x17 residual block (Inception-ResNet-B)."""
    with tf1.variable_scope(scope, "Block17", [net], reuse=reuse):
        mixed = _branches(
            net,
            lambda x: _conv(x, 192, 1, "Conv2d_1x1"),
            lambda x: _chain(x, [(128, 1, "Conv2d_0a_1x1"), (160, [1, 7], "Conv2d_0b_1x7"),
                                 (192, [7, 1], "Conv2d_0c_7x1")]))
        return _residual(net, mixed, scale, activation_fn)


def block8(net, scale=1.0, activation_fn=tf.nn.relu, scope=None, reuse=None):
    """8x8 residual block (Inception-ResNet-C)."""
    with tf1.variable_scope(scope, "Block8", [net], reuse=reuse):
        mixed = _branches(
            net,
            lambda x: _conv(x, 192, 1, "Conv2d_1x1"),
            lambda x: _chain(x, [(192, 1, "Conv2d_0a_1x1"), (224, [1, 3], "Conv2d_0b_1x3"),
                                 (256, [3, 1], "Conv2d_0c_3x1")]))
        return _residual(net, mixed, scale, activation_fn)


def _stem(inputs, end_points):
    """299x299x3 -> 35x35x192: plain convs and max pools, all VALID."""
    net = _conv(inputs, 32, 3, "Conv2d_1a_3x3", stride=2, padding="VALID")
    end_points["Conv2d_1a_3x3"] = net
    net = _conv(net, 32, 3, "Conv2d_2a_3x3", padding="VALID")
    end_points["Conv2d_2a_3x3"] = net
    net = _conv(net, 64, 3, "Conv2d_2b_3x3")
    end_points["Conv2d_2b_3x3"] = net
    net = slim.max_pool2d(net, 3, stride=2, padding="VALID", scope="MaxPool_3a_3x3")
    end_points["MaxPool_3a_3x3"] = net
    net = _conv(net, 80, 1, "Conv2d_3b_1x1", padding="VALID")
    end_points["Conv2d_3b_1x1"] = net
    net = _conv(net, 192, 3, "Conv2d_4a_3x3", padding="VALID")
    end_points["Conv2d_4a_3x3"] = net
    net = slim.max_pool2d(net, 3, stride=2, padding="VALID", scope="MaxPool_5a_3x3")
    end_points["MaxPool_5a_3x3"] = net
    return net


def _mixed_5b(net):
    """35x35x192 -> 35x35x320 (an Inception-A style block without residual)."""
    with tf1.variable_scope("Mixed_5b"):
        return _branches(
            net,
            lambda x: _conv(x, 96, 1, "Conv2d_1x1"),
            lambda x: _chain(x, [(48, 1, "Conv2d_0a_1x1"), (64, 5, "Conv2d_0b_5x5")]),
            lambda x: _chain(x, [(64, 1, "Conv2d_0a_1x1"), (96, 3, "Conv2d_0b_3x3"),
                                 (96, 3, "Conv2d_0c_3x3")]),
            lambda x: _conv(slim.avg_pool2d(x, 3, stride=1, padding="SAME",
                                            scope="AvgPool_0a_3x3"),
                            64, 1, "Conv2d_0b_1x1"))


def _reduce(net, depth, name):
    """A stride-2 VALID 3x3 conv: the grid-size reduction of Mixed_6a/7a."""
    return _conv(net, depth, 3, name, stride=2, padding="VALID")


def _max_pool_reduce(net):
    return slim.max_pool2d(net, 3, stride=2, padding="VALID", scope="MaxPool_1a_3x3")


def _mixed_6a(net):
    """35x35x320 -> 17x17x1088."""
    with tf1.variable_scope("Mixed_6a"):
        return _branches(
            net,
            lambda x: _reduce(x, 384, "Conv2d_1a_3x3"),
            lambda x: _reduce(_chain(x, [(256, 1, "Conv2d_0a_1x1"),
                                         (256, 3, "Conv2d_0b_3x3")]),
                              384, "Conv2d_1a_3x3"),
            _max_pool_reduce)


def _mixed_7a(net):
    """17x17x1088 -> 8x8x2080."""
    with tf1.variable_scope("Mixed_7a"):
        return _branches(
            net,
            lambda x: _reduce(_conv(x, 256, 1, "Conv2d_0a_1x1"), 384, "Conv2d_1a_3x3"),
            lambda x: _reduce(_conv(x, 256, 1, "Conv2d_0a_1x1"), 288, "Conv2d_1a_3x3"),
            lambda x: _reduce(_chain(x, [(256, 1, "Conv2d_0a_1x1"),
                                         (288, 3, "Conv2d_0b_3x3")]),
                              320, "Conv2d_1a_3x3"),
            _max_pool_reduce)


def inception_resnet_v2_base(inputs, scope=None, activation_fn=tf.nn.relu):
    """The convolutional trunk, from the image to Conv2d_7b_1x1 (8x8x1536)."""
    end_points = {}
    with tf1.variable_scope(scope, "InceptionResnetV2", [inputs]):
        with slim.arg_scope(_POOL_AND_CONV, stride=1, padding="SAME"):
            net = _stem(inputs, end_points)
            net = end_points["Mixed_5b"] = _mixed_5b(net)
            net = slim.repeat(net, 10, block35, scale=0.17, activation_fn=activation_fn)
            net = end_points["Mixed_6a"] = _mixed_6a(net)
            net = slim.repeat(net, 20, block17, scale=0.10, activation_fn=activation_fn)
            end_points["PreAuxLogits"] = net
            net = end_points["Mixed_7a"] = _mixed_7a(net)
            net = slim.repeat(net, 9, block8, scale=0.20, activation_fn=activation_fn)
            net = block8(net, activation_fn=None)  # the last one is linear
            net = end_points["Conv2d_7b_1x1"] = _conv(net, 1536, 1, "Conv2d_7b_1x1")
    return net, end_points


def _aux_logits(net, num_classes):
    """Auxiliary classifier on the 17x17 grid; only used in training, but its
    variables are in the released checkpoint."""
    with tf1.variable_scope("AuxLogits"):
        net = slim.avg_pool2d(net, 5, stride=3, padding="VALID", scope="Conv2d_1a_3x3")
        net = _conv(net, 128, 1, "Conv2d_1b_1x1")
        net = _conv(net, 768, net.get_shape()[1:3], "Conv2d_2a_5x5", padding="VALID")
        net = slim.flatten(net)
        return slim.fully_connected(net, num_classes, activation_fn=None, scope="Logits")


def _logits(net, num_classes, dropout_keep_prob, is_training, end_points):
    """Global average pool, dropout, fully connected logits, plain softmax."""
    with tf1.variable_scope("Logits"):
        net = slim.avg_pool2d(net, net.get_shape()[1:3], padding="VALID",
                              scope="AvgPool_1a_8x8")
        net = slim.flatten(net)
        net = slim.dropout(net, dropout_keep_prob, is_training=is_training,
                           scope="Dropout")
        logits = fc_logits(net, num_classes, end_points)
    return logits


def inception_resnet_v2(inputs, num_classes=1001, is_training=True,
                        dropout_keep_prob=0.8, reuse=None,
                        scope="InceptionResnetV2", create_aux_logits=True,
                        activation_fn=tf.nn.relu):
    """Classifier with AuxLogits head. The trunk re-enters the scope object,
    so its op names carry the scope twice, its variable names once."""
    with tf1.variable_scope(scope, "InceptionResnetV2", [inputs], reuse=reuse) as scope:
        with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
            net, end_points = inception_resnet_v2_base(inputs, scope=scope,
                                                       activation_fn=activation_fn)
            if create_aux_logits and num_classes:
                end_points["AuxLogits"] = _aux_logits(end_points["PreAuxLogits"],
                                                      num_classes)
            logits = _logits(net, num_classes, dropout_keep_prob, is_training,
                             end_points)
    return logits, end_points


inception_resnet_v2.default_image_size = 299


def inception_resnet_v2_arg_scope(weight_decay=0.00004, batch_norm_decay=0.9997,
                                  batch_norm_epsilon=0.001,
                                  activation_fn=tf.nn.relu, batch_norm_scale=False):
    """Convs get BatchNorm without gamma; weights and biases are decayed."""
    regularizer = slim.l2_regularizer(weight_decay)
    batch_norm_params = {
        "decay": batch_norm_decay,
        "epsilon": batch_norm_epsilon,
        "updates_collections": tf1.GraphKeys.UPDATE_OPS,
        "fused": None,
        "scale": batch_norm_scale,
    }
    with slim.arg_scope([slim.conv2d, slim.fully_connected],
                        weights_regularizer=regularizer, biases_regularizer=regularizer):
        with slim.arg_scope([slim.conv2d], activation_fn=activation_fn,
                            normalizer_fn=slim.batch_norm,
                            normalizer_params=batch_norm_params) as sc:
            return sc
