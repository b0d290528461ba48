"""Compile: the frozen graph to an NCS graph file with our compiler, plus the manifest."""
from steps.artifacts import (read_stamp, remove_stamp, sha256_file, write_json,
                             write_stamp)
from steps.plan import STEPS, compile_key
from steps.versions import code_digest, tool_versions

import compiler


def compile_graph(frozen_pb, out_path, entry, shaves):
    """Compile between the entry's input and output nodes; write atomically."""
    result = compiler.compile_file(str(frozen_pb), shaves=shaves,
                                   input_node=entry.input_node,
                                   output_node=entry.output_node,
                                   name=entry.name)
    compiler.write_graph(result, str(out_path))
    return result


def manifest(job, scratch_bytes):
    """Everything that went into the graph file, and every file's sha256."""
    p = job.paths
    fetch = read_stamp(p.dir, "fetch") or {}
    files = {}
    for step in ("fetch", "export", "freeze"):
        for rel, rec in (read_stamp(p.dir, step) or {}).get("outputs", {}).items():
            files[rel] = rec["sha256"]
    files[p.graph.name] = sha256_file(p.graph)
    return {
        "name": job.entry.name,
        "synthetic": job.synthetic,
        "source": job.source,
        "catalogue_entry": job.entry.as_dict(),
        "settings": {"shaves": job.shaves, "seed": job.seed if job.synthetic else None},
        "files": files,
        "tarball_sha256": fetch.get("tarball_sha256"),
        "graph": {"file": p.graph.name, "size": p.graph.stat().st_size,
                  "scratch_bytes": scratch_bytes},
        "tool_versions": tool_versions(),
        "code": {"compiler": code_digest("compiler", "ncsformat"),
                 "nets": code_digest("zoo/nets")},
        "steps": {s: (read_stamp(p.dir, s) or {}).get("key") for s in STEPS
                  if s not in ("compile", "check")},
    }


def compile_step(job):
    p = job.paths
    remove_stamp(p.dir, "compile")
    result = compile_graph(p.frozen_pb, p.graph, job.entry, job.shaves)
    write_json(p.manifest, manifest(job, result.scratch_bytes))
    return write_stamp(p.dir, "compile", compile_key(job), [p.graph, p.manifest],
                       {"scratch_bytes": result.scratch_bytes})
