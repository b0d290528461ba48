"""Import TensorFlow in graph mode with tf_slim working: the one place that does it.

tf-keras 2.21 ships TF's legacy layer shims as ``tf_keras.src.legacy_tf_layers``
while TF (and so tf_slim) imports ``tf_keras.legacy_tf_layers``; alias the five
modules once before tf_slim is imported. Import this module lazily: importing
TensorFlow costs seconds, and most of the project never needs it.
"""
import importlib
import os
import sys

# TensorFlow's C++ log (CUDA probing on a CPU build, absl notices) says
# nothing to our users; errors that matter reach Python as exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

for _name in ("base", "convolutional", "core", "normalization", "pooling"):
    sys.modules.setdefault(
        "tf_keras.legacy_tf_layers." + _name,
        importlib.import_module("tf_keras.src.legacy_tf_layers." + _name))

tf.get_logger().setLevel("ERROR")
tf.compat.v1.disable_v2_behavior()

import tf_slim as slim  # noqa: E402

tf1 = tf.compat.v1

__all__ = ["tf", "tf1", "slim"]
