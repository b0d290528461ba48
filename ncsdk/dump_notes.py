"""What is unusual in a graph file, in words: the shapes NCSDK 1.x's own
mvNCCompile wrote (docs/ncs-graph-format.md, "What NCSDK 1.x itself
wrote") and fields outside the format, each said once."""
import ncsformat as nf
from ncsformat import Op, Region

from .dump_read import ELTWISE, SAME_SHAPE, input_tensor, op_name

TF_NAME = "TensorFlow Network"     # NCSDK 1.x's name for every TF graph


def notes(d):
    """Lines describing what is unusual in the Dump ``d``."""
    out = _header_notes(d)
    out += _storage_notes(d.stages)
    for i, st in enumerate(d.stages):
        where = f"stage {i} {st.name!r}"
        out += [f"{where}: {text}" for text in _stage_notes(d, i, st)]
        out += [f"{where}: {b.role} block {b.problem}"
                for b in d.blocks[i].values() if b.problem]
    out += _input_notes(d)
    return out


def _header_notes(d):
    h, out = d.header, []
    if h.file_size != d.size:
        out.append(f"file size field {h.file_size} but the file has "
                   f"{d.size} bytes")
    want = nf.data_start(h.stage_count)
    if h.data_start != want:
        out.append(f"data start {h.data_start}, the format gives {want} for "
                   f"{h.stage_count} stages (blocks read from {d.data_start})")
    if h.first_shave != 0 or not 0 <= h.last_shave < nf.MAX_SHAVES:
        out.append(f"shaves {h.first_shave}..{h.last_shave} outside 0..11")
    if not h.name:
        out.append("empty network name (NCSDK wrote none for a Caffe "
                   "prototxt without name:)")
    empty = [str(i) for i, st in enumerate(d.stages) if not st.name]
    if empty:
        out.append(f"empty stage names: stages {', '.join(empty)}")
    return out


def _storage_notes(stages):
    """One line per unusual storage order, with the stages that say it."""
    by_order = {}
    for i, st in enumerate(stages):
        if st.storage_order != nf.STORAGE_YXZ:
            by_order.setdefault(st.storage_order, []).append(i)
    out = []
    for order, idx in sorted(by_order.items()):
        label = nf.STORAGE_ORDERS.get(order, "unknown")
        out.append(f"storage order {order} ({label}) on {_ranges(idx)}, "
                   "not 2 (YXZ); the strides give the layout (NCSDK 1.x "
                   "wrote 4 on every Caffe stage)")
    return out


def _ranges(idx):
    if len(idx) == 1:
        return f"stage {idx[0]}"
    if idx == list(range(idx[0], idx[-1] + 1)):
        return f"stages {idx[0]}..{idx[-1]} ({len(idx)})"
    return "stages " + ", ".join(map(str, idx))


def _stage_notes(d, i, st):
    out = _field_notes(st)
    last = i == len(d.stages) - 1
    if st.op == Op.NONE and st.data.index == Region.INPUT \
            and st.output.index == Region.OUTPUT and not last:
        out.append("op none copying the input into the result area: "
                   "NCSDK's Caffe input-blob stage; the last stage "
                   "overwrites it, no effect on the result")
    elif st.op == Op.NONE:
        out.append("op none: copies its input to its output")
    if st.op == Op.COPY:
        out.append(f"copy (op 19): {st.output_dims[2]} of "
                   f"{st.input_dims[2]} channels, {_copy_start(d, i, st)}")
    if st.op == Op.FC:
        out += _fc_notes(st)
    if st.op in ELTWISE and st.taps.index in (Region.INPUT, Region.DATA):
        what = {Region.INPUT: "the network input (index 1)",
                Region.DATA: "a constant in the data section (index 3)"}
        out.append(f"{op_name(st.op)} second operand is "
                   f"{what[st.taps.index]}")
    if st.op in SAME_SHAPE and st.output_dims != st.input_dims:
        out.append(_size_note(d, st, last))
    if st.op_params.index != Region.NONE and st.op != Op.CROP:
        out.append(f"opParams at {st.op_params.index}:"
                   f"{st.op_params.pointer} (NCSDK's Caffe convolutions "
                   "carry them; readers ignore them)")
    return out


def _copy_start(d, i, st):
    """Which channel the copy starts at, from the producer's pointer."""
    for j in range(i - 1, -1, -1):
        o = d.stages[j].output
        if o.index == st.data.index and o.pointer <= st.data.pointer:
            return (f"starting at channel {(st.data.pointer - o.pointer) // 2}"
                    f" of stage {j}'s output")
    return f"starting where dataPointer {st.data.pointer} points"


def _field_notes(st):
    out = []
    if st.op not in set(Op):
        out.append(f"op code {st.op} is not an NCSDK op")
    if st.post_op not in nf.POST_OPS:
        out.append(f"postOp {st.post_op} ({op_name(st.post_op)}) is not a "
                   "post-op the format knows")
    if st.pad_style not in set(nf.PadStyle):
        out.append(f"pad style {st.pad_style} unknown")
    fixed = [("optMask", st.opt_mask, nf.OPT_MASK),
             ("datatype", st.datatype, nf.FP16),
             ("precision", st.precision, nf.FP16),
             ("preOp", st.pre_op, Op.NONE),
             ("post stride", tuple(st.post_stride), (0, 0))]
    out += [f"{label} {_show(got)}, expected {_show(want)}"
            for label, got, want in fixed if got != want]
    return out


def _show(v):
    return f"0x{v:08x}" if isinstance(v, int) and v > 0xFFFF else str(v)


def _fc_notes(st):
    w, h, n = st.input_dims
    if (w, h) == (1, 1) and st.input_strides[0] != 2 * n:
        return [f"fully connected input declared 1x1x{n} with the "
                f"producer's strides {_strides(st.input_strides)}: reads "
                f"{n} consecutive values (NCSDK 1.x)"]
    return []


def _size_note(d, st, last):
    i_n, o_n = _count(st.input_dims), _count(st.output_dims)
    if last and o_n > i_n:
        host = st.output_dims[0] * st.output_dims[1] \
            * st.output_strides[0] // 2
        return (f"last stage declares output {_dims(st.output_dims)}, "
                f"larger than its input {_dims(st.input_dims)} "
                f"({op_name(st.op)} keeps the shape): the host reads back "
                f"{host} values, of which {i_n} are computed (NCSDK 1.x)")
    return (f"output {_dims(st.output_dims)} differs from input "
            f"{_dims(st.input_dims)} for {op_name(st.op)}, which keeps the "
            "shape")


def _input_notes(d):
    i, dims, _ = input_tensor(d)
    if dims is None:
        return ["no stage reads the network input (index 1)"]
    w, h, c = dims
    if d.header.name == TF_NAME and w != h:
        return [f"'{TF_NAME}' with non-square input {w}x{h}x{c} (stage "
                f"{i}): NCSDK 1.x wrote H as inputDimX for non-square TF "
                f"inputs, so if NCSDK made this file the network was "
                f"[1, {w}, {h}, {c}] in TF and an image sent row by row "
                f"({w} rows of {h}) is read transposed"]
    return []


def _count(dims):
    return dims[0] * dims[1] * dims[2]


def _dims(dims):
    return "x".join(map(str, dims))


def _strides(s):
    return ",".join(map(str, s))
