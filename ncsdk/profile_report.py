"""mvNCProfile's outputs: the per-layer table, CSV, JSON and an HTML report.

A Profile is built from a loaded graph (reader.Graph) and the per-stage
times the stick reported (TIME_TAKEN), so the report shows exactly what the
API returns. The network drawing's edges come from the stage records alone:
a stage reads from the earlier stages whose writes its data/taps operands
overlap (same buffer index, intersecting bytes), as the executor sees it.
The HTML is self-contained: inline CSS and SVG, no scripts.
"""
import csv
import io
import json
from dataclasses import asdict, dataclass, field
from html import escape

from pathlib import Path

from ncsformat import Op, Region

from emulator import costmodel
from emulator.reader import TF_NETWORK

INPUT = -1          # the network input, as an edge source
READS = ("data", "taps")


@dataclass
class Row:
    index: int
    name: str
    op: str
    mflops: float           # as NCSDK printed it (see ncsdk_flops)
    work_mflops: float      # the real work the time is based on
    megabytes: float        # DDR traffic in the model (1e6 bytes)
    bandwidth_mb_s: float   # as NCSDK: ncsdk_bytes in MiB per second
    time_ms: float
    output: str             # W x H x C
    inputs: list = field(default_factory=list)   # stage indices, -1 = input
    measured_ms: float = None   # --compare: the measured layer's time


@dataclass
class Profile:
    network: str
    shaves: int
    rows: list
    params: dict
    framework: str = "caffe"
    comparison: dict = None     # --compare: totals and unmatched names

    @property
    def total_ms(self):
        return sum(r.time_ms for r in self.rows)


# --- building -------------------------------------------------------------

def _channels(acc):
    """Byte interval of one pixel's channels (for slices of one buffer)."""
    return acc.pointer, acc.pointer + (acc.dims[2] - 1) * acc.strides[2] + 2


def _overlap(a, b):
    if a.index != b.index or a.pointer >= b.end or b.pointer >= a.end:
        return False
    if a.strides != b.strides:
        return True
    (a0, a1), (b0, b1) = _channels(a), _channels(b)
    stride = a.strides[0] or 1     # same strides: compare within a pixel
    off = (b.pointer - a.pointer) % stride
    return off < a1 - a0 or stride - off < b1 - b0


def stage_inputs(accesses):
    """For each stage, the sorted earlier stages (or INPUT) it reads."""
    live, result = [], []       # live: (stage, write access) not overwritten
    for i, accs in enumerate(accesses):
        srcs = set()
        for a in accs:
            if a.write or a.role not in READS:
                continue
            if a.index == Region.INPUT:
                srcs.add(INPUT)
            srcs.update(j for j, w in live if _overlap(a, w))
        result.append(sorted(srcs))
        for w in (a for a in accs if a.write):
            live = [(j, x) for j, x in live if not _overlap(w, x)]
            live.append((i, w))
    return result


def _op_name(op):
    try:
        return Op(op).name.lower()
    except ValueError:
        return str(op)


def framework_of(network, graph_name):
    """"tensorflow" or "caffe", for NCSDK's MFLOPs conventions: from the
    network file's suffix (.pb, .meta: TensorFlow; .prototxt: Caffe); for
    a bare graph file, from its header name (NCSDK, like our compiler when
    asked, named every TensorFlow graph "TensorFlow Network")."""
    suffix = Path(str(network or "")).suffix.lower()
    if suffix in (".pb", ".meta", ".pbtxt"):
        return "tensorflow"
    if suffix in (".prototxt", ".caffemodel"):
        return "caffe"
    return "tensorflow" if graph_name == TF_NETWORK else "caffe"


def build_profile(graph, times_ms, network=None, framework=None):
    """Profile of a loaded graph with the stick's per-stage times."""
    framework = framework or framework_of(network, graph.name)
    inputs = stage_inputs(graph.accesses)
    rows = []
    for i, (st, t) in enumerate(zip(graph.stages, times_ms)):
        t = float(t)
        mib = costmodel.ncsdk_bytes(st) / 2 ** 20
        rows.append(Row(
            index=i, name=st.name, op=_op_name(st.op),
            mflops=costmodel.ncsdk_flops(st, framework) / 1e6,
            work_mflops=costmodel.stage_flops(st) / 1e6,
            megabytes=costmodel.stage_bytes(st) / 1e6,
            bandwidth_mb_s=mib / (t / 1e3) if t > 0 else 0.0, time_ms=t,
            output="x".join(map(str, st.output_dims)), inputs=inputs[i]))
    p = costmodel.DEFAULT
    params = {"coefficients": dict(p.coef), "priors": list(p.priors),
              "parallel_fraction": p.parallel_fraction}
    return Profile(network or graph.name, graph.shaves, rows, params,
                   framework)


# --- text, CSV, JSON ------------------------------------------------------

_RULE = "=" * 96


def format_table(profile):
    """NCSDK's 'Detailed Per Layer Profile' table."""
    lines = ["Detailed Per Layer Profile",
             f"{'#':<5}{'Name':<52}{'MFLOPs':>10}{'Bandwidth MB/s':>16}"
             f"{'time(ms)':>12}", _RULE]
    for r in profile.rows:
        lines.append(f"{r.index:<5}{r.name[:51]:<52}{r.mflops:>10.3f}"
                     f"{r.bandwidth_mb_s:>16.2f}{r.time_ms:>12.2f}")
    lines += ["-" * 96,
              f"{'Total inference time':>83}{profile.total_ms:>13.2f}",
              "-" * 96]
    return "\n".join(lines)


CSV_COLUMNS = ("index", "layer", "mflops", "bandwidth_mb_s", "time_ms", "op",
               "work_mflops", "megabytes", "output", "inputs", "measured_ms")


def to_csv(profile):
    """Same first five columns as the measured NCSDK table."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in profile.rows:
        w.writerow([r.index, r.name, f"{r.mflops:.3f}",
                    f"{r.bandwidth_mb_s:.2f}", f"{r.time_ms:.4f}", r.op,
                    f"{r.work_mflops:.3f}", f"{r.megabytes:.4f}", r.output,
                    " ".join(map(str, r.inputs)),
                    "" if r.measured_ms is None else f"{r.measured_ms:.4f}"])
    return buf.getvalue()


def to_json(profile):
    doc = {"network": profile.network, "shaves": profile.shaves,
           "framework": profile.framework,
           "total_ms": profile.total_ms, "model": profile.params,
           "stages": [asdict(r) for r in profile.rows]}
    if profile.comparison is not None:
        doc["comparison"] = profile.comparison
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def to_html(profile):
    title = f"mvNCProfile: {escape(profile.network)}"
    p = profile.params
    model = (", ".join(f"{k} {v:.4g}" for k, v in p["coefficients"].items())
             + f"; parallel fraction {p['parallel_fraction']:g}")
    table = format_table(profile)
    if profile.comparison is not None:
        from .profile_compare import format_comparison
        table += "\n\n" + format_comparison(profile)
    return _PAGE.format(
        title=title, shaves=profile.shaves, stages=len(profile.rows),
        total=f"{profile.total_ms:.2f}", model=escape(model),
        table=escape(table), bars=bar_chart(profile.rows),
        graph=network_drawing(profile.rows))


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px/1.4 sans-serif; margin: 24px; color: #222; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 18px; margin-top: 32px; }}
.summary span {{ display: inline-block; margin-right: 28px; }}
.summary b {{ font-size: 20px; }}
pre {{ font-size: 12px; background: #f6f6f6; padding: 8px; overflow-x: auto; }}
svg text {{ font-family: sans-serif; }}
.note {{ color: #666; font-size: 12px; }}
</style></head><body>
<h1>{title}</h1>
<p class="summary"><span>Total inference time <b>{total} ms</b></span>
<span>SHAVEs <b>{shaves}</b></span><span>Stages <b>{stages}</b></span></p>
<p class="note">Times are the emulated stick's estimates (TIME_TAKEN) from
the cost model fitted to measured NCSDK profiles (ms per unit): {model}.
MFLOPs and bandwidth as NCSDK printed them. With --compare, the measured
time of each layer is the grey bar under the predicted one.</p>
<h2>Time and MFLOPs per layer</h2>
{bars}
<h2>Network</h2>
<p class="note">Stages in execution order; an edge joins a stage to each
earlier stage whose output it reads. Darker boxes take more time.</p>
{graph}
<h2>Detailed Per Layer Profile</h2>
<pre>{table}</pre>
</body></html>
"""


def report_texts(profile):
    """{"html", "csv", "json"} -> the text of each report."""
    return {"html": to_html(profile), "csv": to_csv(profile),
            "json": to_json(profile)}


# --- SVG ------------------------------------------------------------------

def _text(x, y, s, size=11, anchor="start", weight="normal", fill="#222"):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" '
            f'text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}">{escape(str(s))}</text>')


def _rect(x, y, w, h, fill, stroke="none", rx=0):
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" '
            f'height="{h:.1f}" rx="{rx}" fill="{fill}" stroke="{stroke}"/>')


def _svg(width, height, parts):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
            f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
            + "".join(parts) + "</svg>")


def _short(name, n):
    """Keep the end: TF scopes differ in their last parts."""
    return name if len(name) <= n else "\u2026" + name[-(n - 1):]


_BAR = {"label": 270, "width": 380, "gap": 90, "row": 16, "top": 28}


def bar_chart(rows):
    """Per-layer horizontal bars: time (ms) and NCSDK MFLOPs side by side."""
    g = _BAR
    t_max = max((max(r.time_ms, r.measured_ms or 0) for r in rows),
                default=0) or 1
    f_max = max((r.mflops for r in rows), default=0) or 1
    x_t, x_f = g["label"], g["label"] + g["width"] + g["gap"]
    parts = [_text(x_t, 16, "time (ms)", 13, weight="bold", fill="#1f5fa8"),
             _text(x_f, 16, "MFLOPs (NCSDK count)", 13, weight="bold",
                   fill="#c0631a")]
    for k, r in enumerate(rows):
        y = g["top"] + k * g["row"]
        if k % 2:
            parts.append(_rect(0, y, x_f + g["width"] + g["gap"], g["row"],
                               "#f3f3f3"))
        parts.append(_text(g["label"] - 6, y + 12,
                           f"{r.index} {_short(r.name, 36)}", anchor="end"))
        for x0, v, vmax, col in ((x_t, r.time_ms, t_max, "#3b7dd8"),
                                 (x_f, r.mflops, f_max, "#e8873a")):
            w = g["width"] * v / vmax
            parts.append(_rect(x0, y + 2, w, g["row"] - 4, col))
            parts.append(_text(x0 + w + 4, y + 12, f"{v:.2f}", 10,
                               fill="#444"))
        if r.measured_ms is not None:
            w = g["width"] * r.measured_ms / t_max
            parts.append(_rect(x_t, y + g["row"] - 4, w, 3, "#777"))
            parts.append(_text(x_f - 6, y + 12,
                               f"meas. {r.measured_ms:.2f}", 9,
                               anchor="end", fill="#555"))
    width = x_f + g["width"] + g["gap"]
    return _svg(width, g["top"] + len(rows) * g["row"] + 8, parts)


_BOX = {"w": 210, "h": 52, "hgap": 22, "vgap": 34, "margin": 16}


def levels(rows):
    """Row of each stage in the drawing: one below its deepest input."""
    lv = {INPUT: -1}
    for r in rows:
        lv[r.index] = 1 + max((lv.get(j, -1) for j in r.inputs), default=-1)
    return lv


def _layout(rows):
    """Centre of each box, by level, in execution order within a level."""
    lv = levels(rows)
    by_level = {}
    for key in [INPUT] + [r.index for r in rows]:
        by_level.setdefault(lv[key], []).append(key)
    b = _BOX
    widest = max(len(v) for v in by_level.values())
    width = 2 * b["margin"] + widest * (b["w"] + b["hgap"]) - b["hgap"]
    pos = {}
    for level, keys in by_level.items():
        span = len(keys) * (b["w"] + b["hgap"]) - b["hgap"]
        x0 = (width - span) / 2 + b["w"] / 2
        y = b["margin"] + (level + 1) * (b["h"] + b["vgap"]) + b["h"] / 2
        for n, key in enumerate(keys):
            pos[key] = (x0 + n * (b["w"] + b["hgap"]), y)
    height = 2 * b["margin"] + (len(by_level) + 1) * (b["h"] + b["vgap"])
    return pos, width, height


def _edge(a, b):
    h = _BOX["h"] / 2
    (x1, y1), (x2, y2) = (a[0], a[1] + h), (b[0], b[1] - h)
    mid = (y1 + y2) / 2
    return (f'<path d="M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},'
            f'{mid:.1f} {x2:.1f},{y2 - 4:.1f}" fill="none" stroke="#8a8a8a" '
            f'stroke-width="1.2" marker-end="url(#arrow)"/>')


def _box(center, lines, fill, tip=""):
    b = _BOX
    x, y = center[0] - b["w"] / 2, center[1] - b["h"] / 2
    parts = [f"<g><title>{escape(tip)}</title>",
             _rect(x, y, b["w"], b["h"], fill, "#35506e", rx=5)]
    top = center[1] - 7.5 * (len(lines) - 1) + 4     # lines centred
    for k, (s, size, weight) in enumerate(lines):
        parts.append(_text(center[0], top + 15 * k, s, size, "middle",
                           weight))
    return "".join(parts) + "</g>"


def _shade(share):
    """Light for quick stages, darker blue for the slow ones."""
    return f"hsl(212, 70%, {94 - 36 * min(share, 1.0) ** 0.5:.0f}%)"


def network_drawing(rows):
    """Stages as boxes in execution order, edges from what each reads."""
    pos, width, height = _layout(rows)
    t_max = max((r.time_ms for r in rows), default=0) or 1
    out = (width / 2, pos[rows[-1].index][1] + _BOX["h"] + _BOX["vgap"]) \
        if rows else (width / 2, height)
    parts = ['<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" '
             'markerWidth="7" markerHeight="7" orient="auto"><path '
             'd="M0,0 L8,4 L0,8 z" fill="#8a8a8a"/></marker></defs>']
    for r in rows:
        parts += [_edge(pos[j], pos[r.index]) for j in r.inputs]
    if rows:
        parts.append(_edge(pos[rows[-1].index], out))
    parts.append(_box(pos[INPUT], [("input", 12, "bold")], "#e6f2e6"))
    parts.append(_box(out, [("output", 12, "bold")], "#e6f2e6"))
    for r in rows:
        parts.append(_box(pos[r.index], [
            (f"{r.index} {_short(r.name, 28)}", 11, "bold"),
            (f"{r.op} \u2192 {r.output}", 10, "normal"),
            (f"{r.time_ms:.2f} ms \u00b7 {r.mflops:.1f} MFLOPs", 10, "normal")],
            _shade(r.time_ms / t_max), r.name))
    return _svg(width, height + _BOX["h"], parts)
