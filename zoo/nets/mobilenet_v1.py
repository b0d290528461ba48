"""MobileNet v1 (Howard et al. 2017, arXiv:1704.04861) in TF-Slim.

Written to reproduce the TF-Slim Model Zoo graph exactly: the released
checkpoints are looked up by variable name, so names, shapes and creation
order must match ``research/slim/nets/mobilenet_v1.py``.
"""
import collections

from tfcompat import tf, tf1, slim

# A full conv layer and a depthwise-separable one (depthwise 3x3 + pointwise 1x1).
Conv = collections.namedtuple("Conv", ["kernel", "stride", "depth"])
DepthSepConv = collections.namedtuple("DepthSepConv", ["kernel", "stride", "depth"])

# Layer table of the paper (Table 1), at depth multiplier 1.0.
CONV_DEFS = (
    [Conv([3, 3], 2, 32),
     DepthSepConv([3, 3], 1, 64),
     DepthSepConv([3, 3], 2, 128),
     DepthSepConv([3, 3], 1, 128),
     DepthSepConv([3, 3], 2, 256),
     DepthSepConv([3, 3], 1, 256),
     DepthSepConv([3, 3], 2, 512)]
    + [DepthSepConv([3, 3], 1, 512)] * 5
    + [DepthSepConv([3, 3], 2, 1024),
       DepthSepConv([3, 3], 1, 1024)])


def _depth_fn(depth_multiplier, min_depth):
    """Thin a layer's channel count, never below ``min_depth``."""
    return lambda d: max(int(d * depth_multiplier), min_depth)


def _layer(net, index, conv_def, depth, end_points):
    """Add layer ``index``; record each conv output under its scope name."""
    if isinstance(conv_def, Conv):
        name = "Conv2d_%d" % index
        net = slim.conv2d(net, depth(conv_def.depth), conv_def.kernel,
                          stride=conv_def.stride, scope=name)
        end_points[name] = net
        return net
    name = "Conv2d_%d_depthwise" % index
    # num_outputs=None makes separable_conv2d depthwise-only.
    net = slim.separable_conv2d(net, None, conv_def.kernel, depth_multiplier=1,
                                stride=conv_def.stride, scope=name)
    end_points[name] = net
    name = "Conv2d_%d_pointwise" % index
    net = slim.conv2d(net, depth(conv_def.depth), [1, 1], stride=1, scope=name)
    end_points[name] = net
    return net


def mobilenet_v1_base(inputs, depth_multiplier=1.0, min_depth=8, scope=None):
    """The convolutional trunk, from the image to Conv2d_13_pointwise."""
    if depth_multiplier <= 0:
        raise ValueError("depth_multiplier must be greater than zero.")
    depth = _depth_fn(depth_multiplier, min_depth)
    end_points = {}
    with tf1.variable_scope(scope, "MobilenetV1", [inputs]):
        with slim.arg_scope([slim.conv2d, slim.separable_conv2d], padding="SAME"):
            net = inputs
            for index, conv_def in enumerate(CONV_DEFS):
                net = _layer(net, index, conv_def, depth, end_points)
    return net, end_points


def reduced_kernel_size(tensor, kernel_size):
    """Shrink a pooling kernel to the feature map so small inputs still work."""
    shape = tensor.get_shape().as_list()
    if shape[1] is None or shape[2] is None:
        return kernel_size
    return [min(shape[1], kernel_size[0]), min(shape[2], kernel_size[1])]


def mobilenet_v1(inputs, num_classes=1001, dropout_keep_prob=0.999,
                 is_training=True, min_depth=8, depth_multiplier=1.0,
                 spatial_squeeze=True, reuse=None, scope="MobilenetV1"):
    """Classifier: trunk, average pool, dropout, 1x1 conv logits, softmax.

    The trunk is built by re-entering the variable scope object, which is
    why its op names carry the scope twice while variable names carry it once.
    """
    with tf1.variable_scope(scope, "MobilenetV1", [inputs], reuse=reuse) as scope:
        with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
            net, end_points = mobilenet_v1_base(
                inputs, depth_multiplier=depth_multiplier, min_depth=min_depth,
                scope=scope)
            with tf1.variable_scope("Logits"):
                kernel = reduced_kernel_size(net, [7, 7])
                net = slim.avg_pool2d(net, kernel, padding="VALID", scope="AvgPool_1a")
                end_points["AvgPool_1a"] = net
                net = slim.dropout(net, keep_prob=dropout_keep_prob, scope="Dropout_1b")
                logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                                     normalizer_fn=None, scope="Conv2d_1c_1x1")
                if spatial_squeeze:
                    logits = tf.squeeze(logits, [1, 2], name="SpatialSqueeze")
            end_points["Logits"] = logits
            end_points["Predictions"] = slim.softmax(logits, scope="Predictions")
    return logits, end_points


mobilenet_v1.default_image_size = 224


def mobilenet_v1_arg_scope(is_training=True, weight_decay=0.00004, stddev=0.09,
                           regularize_depthwise=False, batch_norm_decay=0.9997,
                           batch_norm_epsilon=0.001):
    """Default scope: Relu6, BatchNorm with gamma, no decay on depthwise filters."""
    batch_norm_params = {
        "center": True,
        "scale": True,
        "decay": batch_norm_decay,
        "epsilon": batch_norm_epsilon,
        "updates_collections": tf1.GraphKeys.UPDATE_OPS,
    }
    if is_training is not None:
        batch_norm_params["is_training"] = is_training
    regularizer = slim.l2_regularizer(weight_decay)
    depthwise_regularizer = regularizer if regularize_depthwise else None
    with slim.arg_scope([slim.conv2d, slim.separable_conv2d],
                        weights_initializer=tf1.truncated_normal_initializer(stddev=stddev),
                        activation_fn=tf.nn.relu6, normalizer_fn=slim.batch_norm):
        with slim.arg_scope([slim.batch_norm], **batch_norm_params):
            with slim.arg_scope([slim.conv2d], weights_regularizer=regularizer):
                with slim.arg_scope([slim.separable_conv2d],
                                    weights_regularizer=depthwise_regularizer) as sc:
                    return sc
