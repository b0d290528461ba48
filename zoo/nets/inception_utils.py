"""The arg_scope shared by the Inception nets we define (v4)."""
from tfcompat import tf, tf1, slim


def inception_arg_scope(weight_decay=0.00004, use_batch_norm=True,
                        batch_norm_decay=0.9997, batch_norm_epsilon=0.001,
                        activation_fn=tf.nn.relu, batch_norm_scale=False):
    """Convs get ReLU and BatchNorm without gamma, hence no biases.

    Fully connected layers keep the library defaults (biases, no BatchNorm).
    """
    batch_norm_params = {
        "decay": batch_norm_decay,
        "epsilon": batch_norm_epsilon,
        "updates_collections": tf1.GraphKeys.UPDATE_OPS,
        "fused": None,  # fused when possible: one FusedBatchNormV3 op per conv
        "scale": batch_norm_scale,
    }
    normalizer_fn = slim.batch_norm if use_batch_norm else None
    normalizer_params = batch_norm_params if use_batch_norm else {}
    with slim.arg_scope([slim.conv2d, slim.fully_connected],
                        weights_regularizer=slim.l2_regularizer(weight_decay)):
        with slim.arg_scope([slim.conv2d],
                            weights_initializer=slim.variance_scaling_initializer(),
                            activation_fn=activation_fn,
                            normalizer_fn=normalizer_fn,
                            normalizer_params=normalizer_params) as sc:
            return sc


def fc_logits(net, num_classes, end_points):
    """The fully connected logits and softmax of Inception v4 and
    Inception-ResNet v2 (no Reshape: `Logits/Predictions` is the softmax)."""
    end_points["PreLogitsFlatten"] = net
    logits = slim.fully_connected(net, num_classes, activation_fn=None,
                                  scope="Logits")
    end_points["Logits"] = logits
    end_points["Predictions"] = tf.nn.softmax(logits, name="Predictions")
    return logits


def conv(net, depth, kernel, name, **kwargs):
    return slim.conv2d(net, depth, kernel, scope=name, **kwargs)


def branches(net, *branch_fns):
    """Run each branch in its Branch_i scope and concatenate along channels."""
    outputs = []
    for index, branch_fn in enumerate(branch_fns):
        with tf1.variable_scope("Branch_%d" % index):
            outputs.append(branch_fn(net))
    return tf.concat(axis=3, values=outputs)
