"""The compiler's entry points: compile a network file, write a graph file."""
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import ncsformat as nf

from . import frontends, passes
from .errors import (FILE_TYPE, NETWORK_FILE, SHAVES, WEIGHTS_FILE,
                     CompileError, fail)
from .memory import plan_memory
from .writer import lower, pack


@dataclass
class CompileResult:
    blob: bytes
    scratch_bytes: int
    stages: list = field(default_factory=list)   # ncsformat.Stage records
    name: str = ""
    input_node: str = ""          # what the network was cut at, and the
    output_node: str = ""         # input's (1, H, W, C): a checker feeds the
    input_shape: tuple = ()       # framework the same tensor
    warnings: list = field(default_factory=list)   # lines for the user
    # the input in the framework's own rank, batch 1 ((1, 100) for an MLP);
    # () when the framework takes (1, H, W, C) as it is (Caffe: x (H, W, C))
    framework_input_shape: tuple = ()

    @property
    def stage_count(self):
        return len(self.stages)


def check_shaves(shaves):
    if not isinstance(shaves, int) or not 1 <= shaves <= nf.MAX_SHAVES:
        fail(SHAVES, str(shaves))


def compile_graph(graph, shaves=1, name="network"):
    """IR graph -> CompileResult (passes, memory plan, writer)."""
    check_shaves(shaves)
    first = graph.node(graph.input)
    ends = (graph.input, graph.output, tuple(first.shape))
    notes = list(getattr(graph, "warnings", []))
    framework = tuple(first.attrs.get("framework_shape", ()))
    graph = passes.run_all(graph)
    plan = plan_memory(graph)
    stages, data = lower(graph, plan)
    del graph   # its float32 constants are in `data` as fp16 now
    blob = pack(name, shaves, stages, data)
    return CompileResult(blob, plan.scratch_bytes, stages, name, *ends,
                         notes, framework)


def compile_file(network, weights=None, shaves=1, input_node=None,
                 output_node=None, input_size=None, name=None):
    """Compile a network file (frontend chosen by suffix) to graph bytes."""
    check_shaves(shaves)
    path = Path(network)
    if not path.is_file():
        fail(NETWORK_FILE, str(network))
    if weights is not None and not Path(weights).is_file() \
            and path.suffix.lower() != ".prototxt":   # Caffe: zeros
        fail(WEIGHTS_FILE, str(weights))
    load = frontends.loader_for(path.suffix)
    if load is None:
        fail(FILE_TYPE, f"{path.name} (known: "
             f"{', '.join(sorted(frontends.SUFFIXES))})")
    options = {"input_node": input_node, "output_node": output_node,
               "input_size": input_size}
    # no reference kept here: compile_graph frees the IR before packing
    return compile_graph(load(str(path), weights, options), shaves,
                         name or path.stem)


def write_graph(result, path):
    """Write the blob atomically: temp file beside it, fsync, rename."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                               dir=directory)
    try:
        os.chmod(tmp, 0o644)   # mkstemp's 0600 would hide the graph from others
        with os.fdopen(fd, "wb") as f:
            f.write(result.blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


__all__ = ["CompileResult", "CompileError", "compile_file", "compile_graph",
           "write_graph"]
