"""Network factory for the catalogue nets, the way TF-Slim's nets_factory works.

``build`` calls a net once inside its default arg_scope (weight decay 0.0);
``build_inference_graph`` adds the ``input`` placeholder in a fresh graph, as
``export_inference_graph.py`` does. TensorFlow is imported only when a net is
built, because importing it costs seconds.
"""
import functools
import importlib

# model_name -> (module, net function, arg_scope function, extra net kwargs).
# Modules starting with "." are ours; the others come from tf_slim.nets.
_NETS = {
    "inception_v1": ("tf_slim.nets.inception_v1", "inception_v1",
                     "inception_v1_arg_scope", {}),
    "inception_v2": ("tf_slim.nets.inception_v2", "inception_v2",
                     "inception_v2_arg_scope", {}),
    "inception_v3": ("tf_slim.nets.inception_v3", "inception_v3",
                     "inception_v3_arg_scope", {}),
    "inception_v4": (".inception_v4", "inception_v4", "inception_v4_arg_scope", {}),
    "inception_resnet_v2": (".inception_resnet_v2", "inception_resnet_v2",
                            "inception_resnet_v2_arg_scope", {}),
    "mobilenet_v1": (".mobilenet_v1", "mobilenet_v1", "mobilenet_v1_arg_scope",
                     {"depth_multiplier": 1.0}),
    "mobilenet_v1_075": (".mobilenet_v1", "mobilenet_v1", "mobilenet_v1_arg_scope",
                         {"depth_multiplier": 0.75}),
    "mobilenet_v1_050": (".mobilenet_v1", "mobilenet_v1", "mobilenet_v1_arg_scope",
                         {"depth_multiplier": 0.50}),
    "mobilenet_v1_025": (".mobilenet_v1", "mobilenet_v1", "mobilenet_v1_arg_scope",
                         {"depth_multiplier": 0.25}),
}

MODEL_NAMES = tuple(_NETS)


def _resolve(model_name):
    """Return (net_fn with its fixed kwargs, arg_scope_fn) for a model name."""
    if model_name not in _NETS:
        raise ValueError("unknown model_name %r; known: %s"
                         % (model_name, ", ".join(MODEL_NAMES)))
    module_name, fn_name, scope_fn_name, kwargs = _NETS[model_name]
    import tfcompat  # noqa: F401  (tf_slim needs the shim first)
    module = importlib.import_module(module_name, package=__name__)
    net_fn = functools.partial(getattr(module, fn_name), **kwargs)
    return net_fn, getattr(module, scope_fn_name)


def build(model_name, inputs, num_classes=1001, is_training=False):
    """Call the net once on ``inputs`` inside its arg_scope; (logits, end_points)."""
    from tfcompat import slim
    net_fn, arg_scope_fn = _resolve(model_name)
    with slim.arg_scope(arg_scope_fn(weight_decay=0.0)):
        return net_fn(inputs, num_classes=num_classes, is_training=is_training)


def build_inference_graph(model_name, image_size, num_classes=1001):
    """A fresh tf.Graph: float32 placeholder ``input`` [1,S,S,3] and the net."""
    from tfcompat import tf, tf1
    graph = tf.Graph()
    with graph.as_default():
        inputs = tf1.placeholder(tf.float32, [1, image_size, image_size, 3],
                                 name="input")
        build(model_name, inputs, num_classes=num_classes, is_training=False)
    return graph
