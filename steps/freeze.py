"""Freeze: checkpoint values into the inference graph, cut at the output node."""
from pathlib import Path

from steps.artifacts import write_bytes

VARIABLE_OPS = ("VariableV2", "Variable", "VarHandleOp")


class FreezeError(RuntimeError):
    """The checkpoint does not fit the graph, or cannot be read."""


def _graph_variables(graph_def):
    out = {}
    for node in graph_def.node:
        if node.op in VARIABLE_OPS:
            out[node.name] = [d.size for d in node.attr["shape"].shape.dim]
    return out


def check_checkpoint(graph_def, prefix):
    """Every variable the graph has must be in the checkpoint, same shape."""
    from tfcompat import tf1

    try:
        reader = tf1.train.NewCheckpointReader(str(prefix))
    except Exception as exc:  # TF raises several types for unreadable files
        raise FreezeError(f"cannot read checkpoint {prefix}: "
                          f"{str(exc).splitlines()[0]}") from None
    stored = reader.get_variable_to_shape_map()
    for name, shape in _graph_variables(graph_def).items():
        if name not in stored:
            raise FreezeError(f"checkpoint {prefix} lacks variable '{name}' "
                              f"(shape {shape}) that the graph needs")
        if list(stored[name]) != shape:
            raise FreezeError(f"checkpoint {prefix}: variable '{name}' has shape "
                              f"{list(stored[name])}, the graph needs {shape}")


def freeze_graph(inference_pb, checkpoint_prefix, output_node, out_path,
                 checkpoint_format="v2"):
    """TF's freeze_graph, in a fresh graph, written atomically."""
    from tfcompat import tf, tf1
    from tensorflow.python.tools import freeze_graph as tf_freeze

    graph_def = tf1.GraphDef()
    graph_def.ParseFromString(Path(inference_pb).read_bytes())
    names = {n.name for n in graph_def.node}
    if output_node not in names:
        raise FreezeError(f"output node '{output_node}' is not in "
                          f"{inference_pb}")
    check_checkpoint(graph_def, checkpoint_prefix)
    version = (tf1.train.SaverDef.V1 if checkpoint_format == "v1"
               else tf1.train.SaverDef.V2)
    with tf.Graph().as_default():
        frozen = tf_freeze.freeze_graph_with_def_protos(
            input_graph_def=graph_def, input_saver_def=None,
            input_checkpoint=str(checkpoint_prefix),
            output_node_names=output_node, restore_op_name=None,
            filename_tensor_name=None, output_graph="", clear_devices=True,
            initializer_nodes="", checkpoint_version=version)
    write_bytes(out_path, frozen.SerializeToString(deterministic=True))
    return out_path


def freeze_step(job):
    from steps.artifacts import remove_stamp, write_stamp
    from steps.plan import freeze_key

    remove_stamp(job.paths.dir, "freeze")
    freeze_graph(job.paths.inference_pb,
                 job.paths.checkpoint_dir / job.entry.checkpoint,
                 job.entry.output_node, job.paths.frozen_pb,
                 job.entry.checkpoint_format)
    return write_stamp(job.paths.dir, "freeze", freeze_key(job),
                       [job.paths.frozen_pb])
