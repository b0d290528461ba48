"""Inference-time control flow and plumbing of TensorFlow graphs.

Keras (2018) wraps dropout and batch norm in ``cond(learning_phase, ...)``:
``Switch``/``Merge`` around a ``keras_learning_phase`` placeholder. With
the predicate known at compile time one port of each Switch is *dead*, as
TensorFlow's executor would find it: nodes reading a dead tensor are dead,
a Merge forwards its one live input. Failures are *deferred* ("poison"): a
node that cannot be converted only matters if a live path to the output
reads it, so an unsupported op inside a branch not taken costs nothing, and
``tf.shape`` of a data-dependent value is reported as such.
"""
import re

import numpy as np

from ..errors import PLACEHOLDER, STAGE_DETAILS, CompileError
from .tf_values import attr

LEARNING_PHASE = re.compile(r"learning_phase", re.IGNORECASE)


def base(tensor):
    return tensor.partition(":")[0]


def port_of(tensor):
    _, _, port = tensor.partition(":")
    return int(port) if port.isdigit() else 0


def controls(node):
    return [i[1:] for i in node.input if i.startswith("^")]


class Flow:
    """Dead tensors and deferred failures of one conversion."""

    def __init__(self):
        self.dead = set()           # tensor names
        self.dead_nodes = set()     # node names (every port dead)
        self.poison = {}            # node name -> (sequence, CompileError)
        self.placeholders = set()   # stray placeholders (Error 34 if read)
        self.used = []              # the stray placeholders live nodes read

    def is_dead(self, tensor):
        return tensor in self.dead or base(tensor) in self.dead_nodes

    def kill(self, node_name):
        self.dead_nodes.add(node_name)

    def spoil(self, node_name, error):
        self.poison[node_name] = (len(self.poison), error)

    def first_poison(self, tensors):
        found = [self.poison[base(t)] for t in tensors
                 if base(t) in self.poison]
        return min(found, key=lambda p: p[0])[1] if found else None

    def note_placeholders(self, tensors):
        for t in tensors:
            if base(t) in self.placeholders and base(t) not in self.used:
                self.used.append(base(t))


def deferred(number, detail):
    return CompileError(number, detail)


def stray_placeholder(name):
    return deferred(PLACEHOLDER, name)


def is_learning_phase(node):
    """keras_learning_phase, or any bool placeholder named like it."""
    dtype_bool = attr(node, "dtype") == 10          # DT_BOOL
    return bool(LEARNING_PHASE.search(node.name)) and (
        dtype_bool or node.op == "PlaceholderWithDefault")


def const_through_identity(ctx, tensor, depth=0):
    """The constant value of a tensor, looking through Identity nodes not
    (yet) visited; None when unknown."""
    if tensor in ctx.consts:
        return ctx.consts[tensor]
    node = ctx.tf.get(base(tensor))
    if node is None or depth > 16 or node.op != "Identity":
        return None
    ins = ctx.inputs(node)
    return const_through_identity(ctx, ins[0], depth + 1) if ins else None


def switch_taken(pred, node_name):
    value = np.asarray(pred)
    if value.size != 1:
        raise deferred(STAGE_DETAILS, f"{node_name} (Switch): predicate of "
                       f"shape {value.shape}")
    return 1 if bool(value.reshape(-1)[0]) else 0


def control_dead(ctx, tensor, depth=0):
    """A control input off the data path is dead when it is (an Identity
    of) the untaken port of a Switch whose predicate is known: cond's
    switch_t / switch_f that the constants of a branch hang on."""
    if ctx.flow.is_dead(tensor):
        return True
    node = ctx.tf.get(base(tensor))
    if node is None or depth > 16 or base(tensor) in ctx.visited:
        return False
    ins = ctx.inputs(node)
    if node.op == "Identity" and ins:
        return control_dead(ctx, ins[0], depth + 1)
    if node.op == "Switch" and len(ins) == 2:
        pred = const_through_identity(ctx, ins[1])
        if pred is None or np.asarray(pred).size != 1:
            return False
        return switch_taken(pred, node.name) != port_of(tensor)
    return False


def alias(ctx, name, source, node):
    """Tensor ``name`` is the same value as ``source`` (no IR node)."""
    if source in ctx.consts:
        ctx.consts[name] = ctx.consts[source]
    elif source in ctx.values:
        ctx.values[name] = ctx.values[source]
        ctx.rank[name] = ctx.rank.get(source, 4)
    else:
        raise deferred(STAGE_DETAILS, f"{node.name} ({node.op}): input "
                       f"{source} has no value")


def switch(ctx, node):
    """Switch(data, pred) with a known predicate: the taken port is the
    data, the other is dead (even when the data itself cannot be made:
    then only the taken port carries that failure)."""
    ins = ctx.inputs(node)
    flow = ctx.flow
    if len(ins) != 2:
        raise deferred(STAGE_DETAILS, f"{node.name} (Switch) has {len(ins)} "
                       "inputs")
    if flow.is_dead(ins[0]) or flow.is_dead(ins[1]):
        flow.kill(node.name)
        return
    if ins[1] not in ctx.consts:
        flow.note_placeholders(ins[1:])
        raise flow.first_poison(ins[1:]) or deferred(
            STAGE_DETAILS, f"{node.name} (Switch): its predicate {ins[1]} "
            "is known only at run time")
    taken = switch_taken(ctx.consts[ins[1]], node.name)
    flow.dead.add(f"{node.name}:1" if taken == 0 else node.name)
    error = flow.first_poison(ins[:1])
    if error is not None:
        flow.note_placeholders(ins[:1])
        raise error
    alias(ctx, node.name if taken == 0 else f"{node.name}:1", ins[0], node)


def merge(ctx, node):
    """Merge forwards its live input (port 0) and that input's index
    (port 1); dead when every input is."""
    ins = ctx.inputs(node)
    live = [i for i, t in enumerate(ins) if not ctx.flow.is_dead(t)]
    if not live:
        ctx.flow.kill(node.name)
        return
    source = ins[live[0]]
    error = ctx.flow.first_poison([source])
    if error is not None:
        ctx.flow.note_placeholders([source])
        ctx.flow.spoil(node.name, error)
        return
    alias(ctx, node.name, source, node)
    ctx.consts[f"{node.name}:1"] = np.array(live[0], np.int32)
