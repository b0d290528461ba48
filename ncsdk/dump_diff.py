"""mvNCDump --diff: two graph files compared stage by stage.

Meant for someone replacing an NCSDK-made graph with one compiled here:
stages are paired by position (by op sequence when the counts differ, so a
stage NCSDK wrote separately, such as a bias, shows as one stage only in
A), and each pair is compared field by field; constant blocks count as
equal when every value is within 1 fp16 ULP (rounding).
"""
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import numpy as np

from ncsformat import Op, PARAM_OPS, Region

from .dump_read import input_tensor, op_name, output_values

ROLES = ("data", "taps", "bias", "op_params", "output")
FOLDABLE = frozenset({Op.BIAS, Op.RELU, Op.RELU_X, Op.SCALE, Op.SIGMOID,
                      Op.TANH, Op.ELU, Op.LEAKY_RELU})
ROUNDING_ULPS = 1


@dataclass
class StageDiff:
    a: int = None               # stage index in A (None: only in B)
    b: int = None
    label: str = ""
    items: list = field(default_factory=list)   # (kind, text)

    @property
    def kinds(self):
        return sorted({k for k, _ in self.items})


@dataclass
class Diff:
    header: list                # (field, a value, b value)
    stages: list                # StageDiff per pair or unmatched stage

    @property
    def identical(self):
        return not self.header and not any(s.items or s.a is None
                                           or s.b is None
                                           for s in self.stages)


def diff(da, db):
    pairs = align([s.op for s in da.stages], [s.op for s in db.stages])
    out = []
    for i, j in pairs:
        if i is None or j is None:
            out.append(_unmatched(da, db, i, j, pairs))
        else:
            out.append(StageDiff(i, j, _label(da, db, i, j),
                                 compare(da, db, i, j)))
    return Diff(header_diff(da, db), out)


def align(ops_a, ops_b):
    """(i, j) pairs, None for a stage only in one file: by position when the
    counts agree, else by the longest matching op sequences."""
    if len(ops_a) == len(ops_b):
        return list(zip(range(len(ops_a)), range(len(ops_b))))
    pairs = []
    sm = SequenceMatcher(None, ops_a, ops_b, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        n = min(i2 - i1, j2 - j1) if tag in ("equal", "replace") else 0
        pairs += [(i1 + k, j1 + k) for k in range(n)]
        pairs += [(i, None) for i in range(i1 + n, i2)]
        pairs += [(None, j) for j in range(j1 + n, j2)]
    return pairs


def header_diff(da, db):
    def facts(d):
        _, dims, in_bytes = input_tensor(d)
        return {"name": d.header.name, "shaves": d.shaves,
                "stages": len(d.stages), "file size": d.size,
                "data section": d.data_size, "input dims": dims,
                "input bytes": in_bytes, "output values": output_values(d),
                "emulator": d.verdict or "accepts"}
    fa, fb = facts(da), facts(db)
    return [(k, fa[k], fb[k]) for k in fa if fa[k] != fb[k]]


def _label(da, db, i, j):
    na, nb = da.stages[i].name, db.stages[j].name
    where = f"stage {i}" if i == j else f"stage A{i}/B{j}"
    return f"{where} {na!r}" if na == nb else f"{where} {na!r} / {nb!r}"


def _unmatched(da, db, i, j, pairs):
    d, k, side = (da, i, "A") if j is None else (db, j, "B")
    st = d.stages[k]
    text = f"only in {side}: {op_name(st.op)} {_dims(st.output_dims)}"
    hint = _fold_hint(da, db, i, pairs) if j is None else ""
    sd = StageDiff(i, j, f"stage {side}{k} {st.name!r}",
                   [("unmatched", text + hint)])
    return sd


def _fold_hint(da, db, i, pairs):
    """Why A has a stage B lacks: NCSDK's input copy, or a bias/activation
    stage B carries inside the stage before it."""
    st = da.stages[i]
    if st.op == Op.NONE and st.data.index == Region.INPUT \
            and st.output.index == Region.OUTPUT:
        return " (NCSDK's input-blob stage, no effect on the result)"
    if st.op not in FOLDABLE:
        return ""
    prev = [(a, b) for a, b in pairs if a is not None and b is not None
            and a < i]
    if not prev:
        return ""
    a, b = prev[-1]
    sa, sb = da.stages[a], db.stages[b]
    if (sb.bias.index, sb.post_op) != (sa.bias.index, sa.post_op):
        return (f" (B's stage {b} carries it: bias "
                f"{'yes' if sb.bias.index else 'no'}, post-op "
                f"{op_name(sb.post_op)})")
    return ""


def compare(da, db, i, j):
    """(kind, text) for every difference between A's stage i and B's j."""
    sa, sb = da.stages[i], db.stages[j]
    items = []
    if sa.name != sb.name:
        items.append(("name", f"renamed {sa.name!r} -> {sb.name!r}"))
    if sa.op != sb.op:
        items.append(("op", f"op {op_name(sa.op)} -> {op_name(sb.op)}"))
    items += _dims_diff(sa, sb)
    items += _fields(sa, sb, "kernel", [
        ("kernel", "radix"), ("stride", "stride"), ("pad", "pad"),
        ("pad style", "pad_style")])
    items += _post_diff(sa, sb)
    items += _fields(sa, sb, "fields", [
        ("storage order", "storage_order"), ("optMask", "opt_mask"),
        ("preOp", "pre_op"), ("datatype", "datatype"),
        ("precision", "precision"), ("tap strides", "tap_strides"),
        ("post stride", "post_stride")])
    items += _buffer_diff(sa, sb)
    for role in ("taps", "bias", "op_params"):
        items += _block_diff(role, da.blocks[i].get(role),
                             db.blocks[j].get(role))
    return items


def _fields(sa, sb, kind, names):
    out = []
    for label, attr in names:
        va, vb = getattr(sa, attr), getattr(sb, attr)
        if tuple(np.atleast_1d(va)) != tuple(np.atleast_1d(vb)):
            out.append((kind, f"{label} {_val(va)} -> {_val(vb)}"))
    return out


def _dims_diff(sa, sb):
    out = []
    for label, attr in (("input", "input_dims"), ("output", "output_dims"),
                        ("taps", "tap_dims")):
        va, vb = tuple(getattr(sa, attr)), tuple(getattr(sb, attr))
        if va != vb:
            out.append(("dims", f"{label} dims {_dims(va)} -> {_dims(vb)}"
                        + _dims_hint(va, vb)))
    for label, attr in (("input", "input_strides"),
                        ("output", "output_strides")):
        va, vb = tuple(getattr(sa, attr)), tuple(getattr(sb, attr))
        if va != vb:
            out.append(("strides", f"{label} strides {_val(va)} -> "
                        f"{_val(vb)}"))
    return out


def _dims_hint(va, vb):
    if (va[1], va[0], va[2]) == vb:
        return " (W and H swapped)"
    if np.prod(va) == np.prod(vb):
        return f" (the same {int(np.prod(va))} values)"
    return ""


def _post_diff(sa, sb):
    out = []
    if sa.post_op != sb.post_op:
        out.append(("post", f"post-op {op_name(sa.post_op)} -> "
                    f"{op_name(sb.post_op)}"))
    uses = {sa.op, sb.op, sa.post_op, sb.post_op} & PARAM_OPS
    if uses and not _same_float(sa.post_param, sb.post_param):
        out.append(("post", f"post param {sa.post_param:g} -> "
                    f"{sb.post_param:g}"))
    return out


def _same_float(x, y):
    return x == y or (np.isnan(x) and np.isnan(y))


def _buffer_diff(sa, sb):
    """Operand (index, pointer) changes; constants are compared by value,
    so a data-section pointer alone is layout too."""
    moved = []
    for role in ROLES:
        oa, ob = getattr(sa, role), getattr(sb, role)
        if (oa.index, oa.pointer) != (ob.index, ob.pointer):
            moved.append(f"{role} {oa.index}:{oa.pointer} -> "
                         f"{ob.index}:{ob.pointer}")
    if not moved:
        return []
    return [("buffers", "buffers " + ", ".join(moved))]


def _block_diff(role, ba, bb):
    if ba is None and bb is None:
        return []
    if ba is None or bb is None:
        has = "B" if ba is None else "A"
        return [(role, f"{role}: only {has} has a block in the data section")]
    if ba.values is None or bb.values is None:
        if ba.count != bb.count or ba.problem != bb.problem:
            return [(role, f"{role}: cannot compare ({ba.problem or 'ok'} / "
                     f"{bb.problem or 'ok'})")]
        return []
    if ba.count != bb.count:
        return [(role, f"{role}: {ba.count} -> {bb.count} values")]
    return compare_values(role, ba.values, bb.values)


def ulp_distance(a, b):
    """|a - b| in fp16 units in the last place (sign handled, NaN huge)."""
    def ordered(x):
        bits = x.astype("<f2").view(np.uint16).astype(np.int32)
        return np.where(bits & 0x8000, -(bits & 0x7FFF), bits)
    d = np.abs(ordered(a) - ordered(b))
    nan = np.isnan(a.astype(np.float32)) != np.isnan(b.astype(np.float32))
    return np.where(nan, 1 << 16, d)


def compare_values(role, va, vb):
    """Blocks of equal length: a difference only beyond fp16 rounding."""
    ulps = ulp_distance(va, vb)
    worst = int(ulps.max()) if ulps.size else 0
    if worst <= ROUNDING_ULPS:
        return []
    fa, fb = va.astype(np.float32), vb.astype(np.float32)
    with np.errstate(invalid="ignore"):
        absdiff = np.abs(fa - fb)
    at = int(np.nanargmax(absdiff)) if np.isfinite(absdiff).any() else 0
    scale = float(np.nanmax(np.abs(fa))) if fa.size else 0.0
    rel = f", {100 * absdiff[at] / scale:.3g}% of max |A|" if scale else ""
    n = int((ulps > ROUNDING_ULPS).sum())
    return [(role, f"{role}: {n} of {ulps.size} values differ beyond fp16 "
             f"rounding; max |diff| {absdiff[at]:.4g} at [{at}] "
             f"({fa[at]:.4g} -> {fb[at]:.4g}){rel}; max {worst} ULP")]


def summary(result):
    pairs = [s for s in result.stages if s.a is not None and s.b is not None]
    same = sum(1 for s in pairs if not s.items)
    kinds = {}
    for s in pairs:
        for k in s.kinds:
            kinds[k] = kinds.get(k, 0) + 1
    why = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    text = (f"{len(pairs)} stages, {same} identical, {len(pairs) - same} "
            f"differ" + (f" ({why})" if why else ""))
    only_a = sum(1 for s in result.stages if s.b is None)
    only_b = sum(1 for s in result.stages if s.a is None)
    if only_a or only_b:
        text += f"; {only_a} only in A, {only_b} only in B"
    if result.header:
        text += "; header differs (" + ", ".join(
            k for k, _, _ in result.header) + ")"
    return text


def _dims(d):
    return "x".join(map(str, d))


def _val(v):
    if isinstance(v, (tuple, list)):
        return "(" + ",".join(map(str, v)) + ")"
    return f"0x{v:08x}" if isinstance(v, int) and v > 0xFFFF else str(v)
