"""mvNCDump: look inside an NCS graph file (version 2), or diff two.

Shows every stage record as written (also files the emulated stick
refuses, and the shapes NCSDK 1.x's own mvNCCompile wrote) and what is
unusual about them; ``--diff`` compares two files stage by stage. It only
reads bytes: no TensorFlow, no compiler.
"""
import argparse
import json
import math
import sys

from ncsformat import PARAM_OPS, Operand, Region

from . import dump_diff
from .dump_notes import notes
from .dump_read import Unreadable, input_tensor, op_name, output_values, read

DESCRIPTION = """\
Look inside a graph file for the Neural Compute Stick (NCSDK 1.x, version
2): the header, one block per stage and notes on anything unusual, such as
the shapes NCSDK 1.x's mvNCCompile wrote (storage order 4 on Caffe stages,
a leading 'data' stage, copy stages, fully connected inputs declared 1x1xN,
a last stage declared larger than it computes, transposed dims for
non-square TensorFlow inputs) and whether the emulated stick accepts it.

Per stage: index, op, name; then input and output as WxHxC /strideX,strideY,
strideZ (bytes) @index:pointer; the taps, bias and opParams operands
(index:pointer; index 1 network input, 2 result, 3 data section, 4+ work
buffers); kernel, stride, pad and pad style; post-op (and its parameter);
the bytes of the weight and bias blocks.

With --diff B, the stages of both files are paired (by position, or by op
sequence when the counts differ) and compared: op, dims, strides, kernel,
padding, post-op, buffers (a difference only there is just memory layout)
and the weight, bias and parameter blocks, equal when every value is within
1 fp16 ULP (rounding).

Exit status: 0 shown / files identical, 1 files differ (--diff), 2 a file
that cannot be read as a graph file (one line on stderr).
"""

EPILOG = """\
examples:
  mvNCDump graph
  mvNCDump graph --weights
  mvNCDump ncsdk.graph --diff graph
  mvNCDump graph --json > graph.json
"""

PAD_STYLES = {0: "none", 1: "TF VALID", 2: "Caffe", 3: "TF SAME"}
SHOWN_VALUES = 8


def build_parser():
    p = argparse.ArgumentParser(
        prog="mvNCDump", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("graph", help="graph file (as mvNCCompile writes it)")
    p.add_argument("--diff", metavar="B",
                   help="compare GRAPH (A) with graph file B, stage by stage")
    p.add_argument("--json", action="store_true",
                   help="machine-readable output (one JSON document)")
    p.add_argument("--weights", action="store_true",
                   help=f"also print the first {SHOWN_VALUES} values of "
                        "each weight, bias and parameter block")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except BrokenPipeError:     # mvNCDump graph | head
        sys.stderr.close()
        return 0


def run(args):
    try:
        a = read(args.graph)
        b = read(args.diff) if args.diff else None
    except Unreadable as exc:
        print(f"mvNCDump: {exc}", file=sys.stderr)
        return 2
    if b is None:
        print(json.dumps(dump_json(a), indent=1) if args.json
              else render(a, args.weights))
        return 0
    result = dump_diff.diff(a, b)
    print(json.dumps(diff_json(a, b, result), indent=1) if args.json
          else render_diff(a, b, result))
    return 0 if result.identical else 1


# ---- text ----------------------------------------------------------------

def render(d, weights=False):
    lines = header_lines(d) + [""]
    for i, st in enumerate(d.stages):
        lines += stage_lines(i, st, d.blocks[i])
        if weights:
            lines += [f"      {b.role}: {_values(b)}"
                      for b in d.blocks[i].values()]
    found = notes(d)
    lines += ["", f"notes ({len(found)}):" if found else "notes: none"]
    lines += [f"  - {n}" for n in found]
    lines += verdict_lines(d)
    return "\n".join(lines)


def header_lines(d):
    h = d.header
    i, dims, in_bytes = input_tensor(d)
    last = d.stages[-1]
    scratch = (f"{d.scratch_bytes} bytes" if d.scratch_bytes is not None
               else "unknown (the emulated stick refuses the file)")
    return [
        f"file        {d.path} ({d.size} bytes; header says {h.file_size})",
        f"name        {h.name!r}" + (f"  report dir {h.report_dir!r}"
                                     if h.report_dir else ""),
        f"version     {h.version}",
        f"stages      {h.stage_count}",
        f"data start  {h.data_start}; data section {d.data_size} bytes",
        f"shaves      {h.first_shave}..{h.last_shave} ({d.shaves})",
        f"scratch     {scratch}",
        "input       " + (f"{_dims(dims)} = {in_bytes} bytes (first read "
                          f"of index 1, stage {i})" if dims else "none"),
        f"output      {output_values(d)} fp16 values "
        f"({_dims(last.output_dims)}, strideX {last.output_strides[0]}: "
        "from the last stage, as the host computes it)",
    ]


def stage_lines(i, st, blocks):
    w = sum(b.nbytes for r, b in blocks.items() if r == "taps")
    bias = sum(b.nbytes for r, b in blocks.items() if r == "bias")
    return [
        f"{i:4d}  {op_name(st.op)}  {st.name!r}",
        f"      in  {_tensor(st.input_dims, st.input_strides, st.data)}"
        f"  ->  out {_tensor(st.output_dims, st.output_strides, st.output)}",
        f"      taps {_at(st.taps)} ({_dims(st.tap_dims, ',')})  bias "
        f"{_at(st.bias)}  params {_at(st.op_params)}  "
        f"k {st.radix[0]}x{st.radix[1]} s {st.stride[0]}x{st.stride[1]} "
        f"pad {st.pad[0]},{st.pad[1]} "
        f"{PAD_STYLES.get(st.pad_style, st.pad_style)}  "
        f"post {_post(st)}  weights {w} B  bias {bias} B",
    ]


def verdict_lines(d):
    if d.verdict:
        return [f"emulated stick: refuses: {d.verdict}"]
    lines = ["emulated stick: accepts"]
    lines += [f"  warning: {w}" for w in d.warnings]
    return lines


def render_diff(a, b, result):
    lines = [f"A: {a.path} ({len(a.stages)} stages, {a.header.name!r}, "
             f"{a.shaves} shaves)",
             f"B: {b.path} ({len(b.stages)} stages, {b.header.name!r}, "
             f"{b.shaves} shaves)"]
    lines += [f"header: {k} {_short(va)} -> {_short(vb)}"
              for k, va, vb in result.header]
    for s in result.stages:
        if not s.items:
            continue
        kinds = s.kinds
        tag = " (layout only)" if kinds == ["buffers"] else ""
        lines.append(f"{s.label}{tag}:")
        lines += [f"    {text}" for _, text in s.items]
    lines.append(dump_diff.summary(result))
    return "\n".join(lines)


def _tensor(dims, strides, operand):
    return f"{_dims(dims)} /{','.join(map(str, strides))} {_at(operand)}"


def _at(operand):
    if operand.index == Region.NONE and operand.pointer == 0:
        return "-"
    return f"@{operand.index}:{operand.pointer}"


def _post(st):
    text = op_name(st.post_op)
    if st.post_op in PARAM_OPS or st.op in PARAM_OPS:
        text += f"({st.post_param:g})"
    return text


def _values(b):
    if b.values is None:
        return b.problem
    vals = ", ".join(f"{v:.4g}" for v in b.values[:SHOWN_VALUES].astype(float))
    more = f", ... ({b.count} values)" if b.count > SHOWN_VALUES else ""
    return f"[{vals}{more}]"


def _dims(d, sep="x"):
    return sep.join(map(str, d))


def _short(v):
    text = _dims(v) if isinstance(v, tuple) else repr(v) \
        if isinstance(v, str) else str(v)
    return text if len(text) < 90 else text[:87] + "..."


# ---- JSON ----------------------------------------------------------------

def dump_json(d):
    i, dims, in_bytes = input_tensor(d)
    h = d.header
    return {
        "file": d.path, "size": d.size,
        "header": {"file_size": h.file_size, "version": h.version,
                   "name": h.name, "report_dir": h.report_dir,
                   "stage_count": h.stage_count, "data_start": h.data_start,
                   "first_shave": h.first_shave, "last_shave": h.last_shave},
        "data_size": d.data_size, "scratch_bytes": d.scratch_bytes,
        "input": {"stage": i, "dims": _list(dims), "bytes": in_bytes},
        "output_values": output_values(d),
        "stages": [stage_json(st, d.blocks[k])
                   for k, st in enumerate(d.stages)],
        "notes": notes(d),
        "emulator": {"accepts": not d.verdict, "refusal": d.verdict or None,
                     "warnings": [str(w) for w in d.warnings]},
    }


def stage_json(st, blocks):
    out = {"name": st.name, "op": st.op, "op_name": op_name(st.op),
           "post_op_name": op_name(st.post_op)}
    for key, value in vars(st).items():
        if isinstance(value, Operand):
            value = {"index": value.index, "pointer": value.pointer}
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, float) and not math.isfinite(value):
            value = str(value)
        out[key] = value
    out["blocks"] = {r: {"pointer": b.pointer, "values": b.count,
                         "bytes": b.nbytes, "problem": b.problem or None}
                     for r, b in blocks.items()}
    return out


def diff_json(a, b, result):
    return {
        "a": a.path, "b": b.path, "identical": result.identical,
        "header": [{"field": k, "a": _jsonable(va), "b": _jsonable(vb)}
                   for k, va, vb in result.header],
        "stages": [{"a": s.a, "b": s.b, "label": s.label,
                    "differences": [{"kind": k, "text": t}
                                    for k, t in s.items]}
                   for s in result.stages],
        "summary": dump_diff.summary(result),
    }


def _list(v):
    return list(v) if v is not None else None


def _jsonable(v):
    return list(v) if isinstance(v, tuple) else v


if __name__ == "__main__":
    sys.exit(main())
