"""Export: the inference graph as the Model Zoo's export_inference_graph makes it."""
from steps.artifacts import write_bytes


def export_inference_graph(entry, out_path):
    """Placeholder `input` [1,S,S,3], is_training False, the entry's classes."""
    from zoo.nets import build_inference_graph

    graph = build_inference_graph(entry.model_name, entry.image_size,
                                  entry.num_classes)
    graph_def = graph.as_graph_def()
    write_bytes(out_path, graph_def.SerializeToString(deterministic=True))
    return out_path


def export_step(job):
    from steps.artifacts import remove_stamp, write_stamp
    from steps.plan import export_key

    remove_stamp(job.paths.dir, "export")
    export_inference_graph(job.entry, job.paths.inference_pb)
    return write_stamp(job.paths.dir, "export", export_key(job),
                       [job.paths.inference_pb])
