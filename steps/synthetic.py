"""Synthetic checkpoints: the official tarball's name and layout, our weights.

Used with no internet (demo, tests, CI). The weights come from our own net
definition with a seeded generator per variable, scaled so that activations
keep their size through the net (He initialisation, batch norm near identity)
and the logits are spread enough for a clear top-1.
"""
import tempfile
import zlib
from pathlib import Path

import numpy as np




def variable_value(name, shape, seed):
    """Deterministic value of one variable, by its name and the seed."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    shape = tuple(shape)
    leaf = name.rsplit("/", 1)[-1]
    if leaf == "gamma":
        return rng.uniform(0.8, 1.2, shape)
    if leaf in ("beta", "moving_mean"):
        return rng.normal(0.0, 0.1, shape)
    if leaf == "moving_variance":
        return rng.uniform(0.8, 1.2, shape)
    if leaf == "biases":
        return rng.normal(0.0, 0.05, shape)
    if leaf == "depthwise_weights":
        fan_in = shape[0] * shape[1]
    else:  # weights, pointwise_weights: [kh, kw, cin, cout] or [cin, cout]
        fan_in = int(np.prod(shape[:-1]))
    return rng.normal(0.0, np.sqrt(2.0 / max(fan_in, 1)), shape)


def _is_logits_layer(variable):
    name = variable.op.name
    return "/Logits/" in name and "AuxLogits" not in name


def _calibrate_logits(sess, graph, variables, seed, target_std=2.0):
    """Scale the logits layer so the logits' spread is target_std.

    Inception features grow larger than MobileNet's; without this the softmax
    is one-hot for some nets and nearly flat for others, and a check on it
    says little. Logits are linear in the layer's weights and biases.
    """
    softmax = [op for op in graph.get_operations() if op.type == "Softmax"]
    logits = softmax[-1].inputs[0]
    x = graph.get_tensor_by_name("input:0")
    image = np.random.default_rng(seed).uniform(-1, 1, x.shape.as_list())
    spread = float(np.std(sess.run(logits, {x: image})))
    factor = target_std / spread if spread > 0 else 1.0
    for v in variables:
        if _is_logits_layer(v):
            v.load(sess.run(v) * factor, sess)


def save_synthetic_checkpoint(entry, out_dir, seed=0):
    """Write the entry's checkpoint files into out_dir; return their paths."""
    from tfcompat import tf, tf1
    from zoo.nets import build_inference_graph

    graph = build_inference_graph(entry.model_name, entry.image_size,
                                  entry.num_classes)
    with graph.as_default():
        variables = tf1.global_variables()
        values = [variable_value(v.op.name, v.shape.as_list(), seed)
                  .astype(v.dtype.base_dtype.as_numpy_dtype) for v in variables]
        holders = [tf1.placeholder(v.dtype.base_dtype, v.shape) for v in variables]
        assign = tf.group(*[v.assign(h) for v, h in zip(variables, holders)])
        version = (tf1.train.SaverDef.V1 if entry.checkpoint_format == "v1"
                   else tf1.train.SaverDef.V2)
        saver = tf1.train.Saver(variables, write_version=version)
        with tf1.Session(graph=graph) as sess:
            sess.run(assign, dict(zip(holders, values)))
            _calibrate_logits(sess, graph, variables, seed)
            saver.save(sess, str(Path(out_dir) / entry.checkpoint),
                       write_meta_graph=entry.checkpoint_format == "v2",
                       write_state=False)
    paths = {f: Path(out_dir) / f for f in entry.checkpoint_files}
    missing = [f for f, p in paths.items() if not p.exists()]
    if missing:
        raise RuntimeError(f"synthetic checkpoint for {entry.name} lacks "
                           f"{', '.join(missing)}")
    return paths


def build_synthetic_tarball(entry, tarball, seed=0):
    """The official tarball (name and members) with seeded weights."""
    tarball = Path(tarball)
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tarball.parent,
                                     prefix=".synthetic.") as tmp:
        files = save_synthetic_checkpoint(entry, tmp, seed)
        from steps.extract import make_tarball
        make_tarball(tarball, dict(files))
    return tarball
