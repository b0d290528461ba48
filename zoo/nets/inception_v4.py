"""Inception v4 (Szegedy et al. 2016, arXiv:1602.07261) in TF-Slim.

Written to reproduce the TF-Slim Model Zoo graph exactly: the released
checkpoint is looked up by variable name, so names, shapes and creation order
must match ``research/slim/nets/inception_v4.py``.
"""
from tfcompat import tf, tf1, slim
from zoo.nets.inception_utils import branches as _branches
from zoo.nets.inception_utils import conv as _conv
from zoo.nets.inception_utils import fc_logits, inception_arg_scope

_SAME_STRIDE_1 = dict(stride=1, padding="SAME")
_POOL_AND_CONV = [slim.conv2d, slim.avg_pool2d, slim.max_pool2d]


def _reduce(net, depth, name):
    """A stride-2 VALID 3x3 conv: the grid-size reduction of every block."""
    return _conv(net, depth, [3, 3], name, stride=2, padding="VALID")


def _max_pool_reduce(net, name):
    return slim.max_pool2d(net, [3, 3], stride=2, padding="VALID", scope=name)


def _avg_pool_then_1x1(net, depth):
    """Branch_3 of the Inception blocks: 3x3 average pool, then 1x1 conv."""
    net = slim.avg_pool2d(net, [3, 3], scope="AvgPool_0a_3x3")
    return _conv(net, depth, [1, 1], "Conv2d_0b_1x1")


def _split_1x3_3x1(net, depth, names):
    """Two parallel 1x3 and 3x1 convs, concatenated (Inception-C branches)."""
    return tf.concat(axis=3, values=[_conv(net, depth, [1, 3], names[0]),
                                     _conv(net, depth, [3, 1], names[1])])


def block_inception_a(net, scope=None):
    """35x35x384 -> 35x35x384."""
    with slim.arg_scope(_POOL_AND_CONV, **_SAME_STRIDE_1):
        with tf1.variable_scope(scope, "BlockInceptionA", [net]):
            return _branches(
                net,
                lambda x: _conv(x, 96, [1, 1], "Conv2d_0a_1x1"),
                lambda x: _conv(_conv(x, 64, [1, 1], "Conv2d_0a_1x1"),
                                96, [3, 3], "Conv2d_0b_3x3"),
                lambda x: _conv(_conv(_conv(x, 64, [1, 1], "Conv2d_0a_1x1"),
                                      96, [3, 3], "Conv2d_0b_3x3"),
                                96, [3, 3], "Conv2d_0c_3x3"),
                lambda x: _avg_pool_then_1x1(x, 96))


def block_reduction_a(net, scope=None):
    """35x35x384 -> 17x17x1024."""
    with slim.arg_scope(_POOL_AND_CONV, **_SAME_STRIDE_1):
        with tf1.variable_scope(scope, "BlockReductionA", [net]):
            return _branches(
                net,
                lambda x: _reduce(x, 384, "Conv2d_1a_3x3"),
                lambda x: _reduce(_conv(_conv(x, 192, [1, 1], "Conv2d_0a_1x1"),
                                        224, [3, 3], "Conv2d_0b_3x3"),
                                  256, "Conv2d_1a_3x3"),
                lambda x: _max_pool_reduce(x, "MaxPool_1a_3x3"))


def _inception_b_branch_2(net):
    net = _conv(net, 192, [1, 1], "Conv2d_0a_1x1")
    net = _conv(net, 192, [7, 1], "Conv2d_0b_7x1")
    net = _conv(net, 224, [1, 7], "Conv2d_0c_1x7")
    net = _conv(net, 224, [7, 1], "Conv2d_0d_7x1")
    return _conv(net, 256, [1, 7], "Conv2d_0e_1x7")


def block_inception_b(net, scope=None):
    """17x17x1024 -> 17x17x1024."""
    with slim.arg_scope(_POOL_AND_CONV, **_SAME_STRIDE_1):
        with tf1.variable_scope(scope, "BlockInceptionB", [net]):
            return _branches(
                net,
                lambda x: _conv(x, 384, [1, 1], "Conv2d_0a_1x1"),
                lambda x: _conv(_conv(_conv(x, 192, [1, 1], "Conv2d_0a_1x1"),
                                      224, [1, 7], "Conv2d_0b_1x7"),
                                256, [7, 1], "Conv2d_0c_7x1"),
                _inception_b_branch_2,
                lambda x: _avg_pool_then_1x1(x, 128))


def _reduction_b_branch_1(net):
    net = _conv(net, 256, [1, 1], "Conv2d_0a_1x1")
    net = _conv(net, 256, [1, 7], "Conv2d_0b_1x7")
    net = _conv(net, 320, [7, 1], "Conv2d_0c_7x1")
    return _reduce(net, 320, "Conv2d_1a_3x3")


def block_reduction_b(net, scope=None):
    """17x17x1024 -> 8x8x1536."""
    with slim.arg_scope(_POOL_AND_CONV, **_SAME_STRIDE_1):
        with tf1.variable_scope(scope, "BlockReductionB", [net]):
            return _branches(
                net,
                lambda x: _reduce(_conv(x, 192, [1, 1], "Conv2d_0a_1x1"),
                                  192, "Conv2d_1a_3x3"),
                _reduction_b_branch_1,
                lambda x: _max_pool_reduce(x, "MaxPool_1a_3x3"))


def _inception_c_branch_2(net):
    net = _conv(net, 384, [1, 1], "Conv2d_0a_1x1")
    net = _conv(net, 448, [3, 1], "Conv2d_0b_3x1")
    net = _conv(net, 512, [1, 3], "Conv2d_0c_1x3")
    return _split_1x3_3x1(net, 256, ["Conv2d_0d_1x3", "Conv2d_0e_3x1"])


def block_inception_c(net, scope=None):
    """8x8x1536 -> 8x8x1536."""
    with slim.arg_scope(_POOL_AND_CONV, **_SAME_STRIDE_1):
        with tf1.variable_scope(scope, "BlockInceptionC", [net]):
            return _branches(
                net,
                lambda x: _conv(x, 256, [1, 1], "Conv2d_0a_1x1"),
                lambda x: _split_1x3_3x1(_conv(x, 384, [1, 1], "Conv2d_0a_1x1"),
                                         256, ["Conv2d_0b_1x3", "Conv2d_0c_3x1"]),
                _inception_c_branch_2,
                lambda x: _avg_pool_then_1x1(x, 256))


def _mixed_4a_branch_0(net):
    net = _conv(net, 64, [1, 1], "Conv2d_0a_1x1")
    return _conv(net, 96, [3, 3], "Conv2d_1a_3x3", padding="VALID")


def _mixed_4a_branch_1(net):
    net = _conv(net, 64, [1, 1], "Conv2d_0a_1x1")
    net = _conv(net, 64, [1, 7], "Conv2d_0b_1x7")
    net = _conv(net, 64, [7, 1], "Conv2d_0c_7x1")
    return _conv(net, 96, [3, 3], "Conv2d_1a_3x3", padding="VALID")


def _stem(net, end_points):
    """299x299x3 -> 35x35x384: plain convs, then Mixed_3a, Mixed_4a, Mixed_5a."""
    net = _conv(net, 32, [3, 3], "Conv2d_1a_3x3", stride=2, padding="VALID")
    end_points["Conv2d_1a_3x3"] = net
    net = _conv(net, 32, [3, 3], "Conv2d_2a_3x3", padding="VALID")
    end_points["Conv2d_2a_3x3"] = net
    net = _conv(net, 64, [3, 3], "Conv2d_2b_3x3")
    end_points["Conv2d_2b_3x3"] = net
    with tf1.variable_scope("Mixed_3a"):
        net = _branches(net,
                        lambda x: _max_pool_reduce(x, "MaxPool_0a_3x3"),
                        lambda x: _reduce(x, 96, "Conv2d_0a_3x3"))
    end_points["Mixed_3a"] = net
    with tf1.variable_scope("Mixed_4a"):
        net = _branches(net, _mixed_4a_branch_0, _mixed_4a_branch_1)
    end_points["Mixed_4a"] = net
    with tf1.variable_scope("Mixed_5a"):
        net = _branches(net,
                        lambda x: _reduce(x, 192, "Conv2d_1a_3x3"),
                        lambda x: _max_pool_reduce(x, "MaxPool_1a_3x3"))
    end_points["Mixed_5a"] = net
    return net


# (block function, end point names) in network order after the stem.
_BLOCKS = [
    (block_inception_a, ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_5e"]),
    (block_reduction_a, ["Mixed_6a"]),
    (block_inception_b, ["Mixed_6%s" % c for c in "bcdefgh"]),
    (block_reduction_b, ["Mixed_7a"]),
    (block_inception_c, ["Mixed_7b", "Mixed_7c", "Mixed_7d"]),
]


def inception_v4_base(inputs, scope=None):
    """The convolutional trunk, from the image to Mixed_7d (8x8x1536)."""
    end_points = {}
    with tf1.variable_scope(scope, "InceptionV4", [inputs]):
        with slim.arg_scope(_POOL_AND_CONV, **_SAME_STRIDE_1):
            net = _stem(inputs, end_points)
            for block_fn, names in _BLOCKS:
                for name in names:
                    net = block_fn(net, name)
                    end_points[name] = net
    return net, end_points


def _aux_logits(net, num_classes):
    """Auxiliary classifier on Mixed_6h; only used in training, but its
    variables are in the released checkpoint."""
    with tf1.variable_scope("AuxLogits"):
        net = slim.avg_pool2d(net, [5, 5], stride=3, padding="VALID",
                              scope="AvgPool_1a_5x5")
        net = _conv(net, 128, [1, 1], "Conv2d_1b_1x1")
        net = _conv(net, 768, net.get_shape()[1:3], "Conv2d_2a", padding="VALID")
        net = slim.flatten(net)
        return slim.fully_connected(net, num_classes, activation_fn=None,
                                    scope="Aux_logits")


def _logits(net, num_classes, dropout_keep_prob, end_points):
    """Global average pool, dropout, fully connected logits, plain softmax."""
    with tf1.variable_scope("Logits"):
        net = slim.avg_pool2d(net, net.get_shape()[1:3], padding="VALID",
                              scope="AvgPool_1a")
        end_points["global_pool"] = net
        net = slim.dropout(net, dropout_keep_prob, scope="Dropout_1b")
        net = slim.flatten(net, scope="PreLogitsFlatten")
        logits = fc_logits(net, num_classes, end_points)
    return logits


def inception_v4(inputs, num_classes=1001, is_training=True,
                 dropout_keep_prob=0.8, reuse=None, scope="InceptionV4",
                 create_aux_logits=True):
    """Classifier with AuxLogits head. The trunk re-enters the scope object,
    so its op names carry the scope twice, its variable names once."""
    with tf1.variable_scope(scope, "InceptionV4", [inputs], reuse=reuse) as scope:
        with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
            net, end_points = inception_v4_base(inputs, scope=scope)
            with slim.arg_scope(_POOL_AND_CONV, **_SAME_STRIDE_1):
                if create_aux_logits and num_classes:
                    end_points["AuxLogits"] = _aux_logits(end_points["Mixed_6h"],
                                                          num_classes)
                logits = _logits(net, num_classes, dropout_keep_prob, end_points)
    return logits, end_points


inception_v4.default_image_size = 299
inception_v4_arg_scope = inception_arg_scope
