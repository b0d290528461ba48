"""The nightly report as one self-contained HTML page (inline CSS and SVG).

No script, no font or image from anywhere: the page reads the same from a
mail attachment, a file:// URL or a static web server, years later.
"""
from html import escape

from steps.plan import STEPS

CSS = """
body{font:14px/1.45 "DejaVu Sans",Arial,sans-serif;margin:24px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.summary{font-size:20px;font-weight:bold;padding:10px 14px;border-radius:6px;
display:inline-block;margin:8px 0}
.summary.ok{background:#e3f4e3;color:#145214}.summary.bad{background:#fbe3e3;
color:#8a1010}.meta{color:#555}.warn{color:#8a5a00;font-weight:bold}
table{border-collapse:collapse;font-size:12px}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right;white-space:nowrap}
th{background:#f0f0f0}td.name,th.name{text-align:left}
td.done{background:#e8f6e8}td.uptodate{background:#f3f7f3;color:#555}
td.failed{background:#fbdada;font-weight:bold}td.notrun{color:#999}
tr.failed td.name{color:#8a1010;font-weight:bold}
.charts{display:flex;flex-wrap:wrap;gap:24px}
ul.errors li{font-family:monospace;font-size:12px;margin-bottom:4px}
"""
STEP_CLASS = {"done": "done", "up to date": "uptodate", "failed": "failed",
              "not run": "notrun"}
BAR = {"ok": "#4a7fb5", "failed": "#c0392b"}


def _num(value, fmt="{:,.2f}", missing="–"):
    return missing if value is None else fmt.format(value)


def _step_cell(rec):
    status = rec["status"]
    text = {"done": f"✓ {rec.get('seconds', 0):.1f} s",
            "up to date": "= kept", "failed": "✗ failed",
            "not run": "– not run"}[status]
    title = f' title="{escape(rec["error"])}"' if rec.get("error") else ""
    return f'<td class="{STEP_CLASS[status]}"{title}>{text}</td>'


def _net_row(name, r):
    c = r.get("check") or {}
    m = c.get("metrics") or {}
    status = "PASS" if r["status"] == "ok" else "FAIL"
    cells = [f'<td class="name">{escape(name)}</td>', f"<td>{status}</td>"]
    cells += [_step_cell(r["steps"][s]) for s in STEPS]
    cells += [f"<td>{_num(r['graph_bytes'], '{:,}')}</td>",
              f"<td>{_num(m.get('max_error'), '{:.3f}')}</td>",
              f"<td>{_num(m.get('mean_error'), '{:.3f}')}</td>",
              f"<td>{_num(m.get('rms_error'), '{:.3f}')}</td>",
              f"<td>{'–' if not c else ('same' if c['top1_identical'] else 'DIFF')}</td>",
              f"<td>{_num(r['inference_ms_12'])}</td>",
              f"<td>{_num(r['fps_12'], '{:,.1f}')}</td>",
              f"<td>{_num(r.get('build_seconds'), '{:,.1f}')}</td>"]
    cls = ' class="failed"' if r["status"] != "ok" else ""
    return f"<tr{cls}>{''.join(cells)}</tr>"


def table(nets):
    head = (["Net", "Result"] + [s for s in STEPS]
            + ["Graph bytes", "Max err", "Mean err", "RMS err",
               "Top-1", "ms @12", "FPS @12", "Build s"])
    ths = "".join('<th class="name">Net</th>' if h == "Net" else f"<th>{h}</th>"
                  for h in head)
    rows = "\n".join(_net_row(n, nets[n]) for n in sorted(nets))
    return f'<table id="nets">\n<tr>{ths}</tr>\n{rows}\n</table>'


def bar_chart(title, rows, unit, fmt, chart_id):
    """Horizontal bars, one per (label, value, status, note); no value: a gap."""
    label_w, bar_w, row_h, top = 175, 300, 20, 30
    height = top + row_h * len(rows) + 10
    biggest = max([v for _, v, _, _ in rows if v] or [1.0])
    parts = [f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" '
             f'width="{label_w + bar_w + 170}" height="{height}" '
             f'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
             f'<text x="0" y="16" font-size="14" font-weight="bold">'
             f'{escape(title)}</text>']
    for i, (label, value, status, note) in enumerate(rows):
        y = top + i * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + 14}" '
                     f'text-anchor="end">{escape(label)}</text>')
        if value is None:
            what = "failed" if status == "failed" else "no result"
            parts.append(f'<text x="{label_w + 4}" y="{y + 14}" '
                         f'fill="{BAR[status]}">{what}</text>')
            continue
        w = max(1.0, bar_w * value / biggest)
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" '
                     f'height="{row_h - 6}" fill="{BAR[status]}"/>')
        text = fmt.format(value) + f" {unit}" + (f"  ({note})" if note else "")
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 14}">'
                     f'{escape(text)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def charts(nets):
    names = sorted(nets)
    speed = [(n, nets[n]["inference_ms_12"], nets[n]["status"],
              None if nets[n]["fps_12"] is None else f"{nets[n]['fps_12']:,.1f} FPS")
             for n in names]
    size = [(n, None if nets[n]["graph_bytes"] is None
             else nets[n]["graph_bytes"] / 1e6, nets[n]["status"], None)
            for n in names]
    return ('<div class="charts">\n'
            + bar_chart("Inference time at 12 SHAVEs (cost model)", speed,
                        "ms", "{:,.1f}", "chart-time") + "\n"
            + bar_chart("Graph file size", size, "MB", "{:,.2f}", "chart-size")
            + "\n</div>")


def _short(value):
    if isinstance(value, float):
        return f"{value:,.4g}"
    return "–" if value is None else str(value)


def changes_section(report):
    if report["previous"] is None:
        return "<p>No earlier report to compare with.</p>"
    rows = report["changes"]
    if not rows:
        return (f"<p>Nothing changed since {escape(report['previous'])} "
                "(graph bytes, metrics, step results and timings).</p>")
    trs = "\n".join(f'<tr><td class="name">{escape(c["net"])}</td>'
                    f'<td class="name">{escape(c["what"])}</td>'
                    f'<td>{escape(_short(c["before"]))}</td>'
                    f'<td>{escape(_short(c["after"]))}</td></tr>'
                    for c in rows)
    return (f"<p>{len(rows)} change{'s' if len(rows) != 1 else ''} since "
            f"{escape(report['previous'])}:</p>\n<table id=\"changes\">"
            '<tr><th class="name">Net</th><th class="name">What</th>'
            f"<th>Before</th><th>After</th></tr>\n{trs}\n</table>")


def failures_section(nets):
    items = [f"<li><b>{escape(n)}</b> {escape(s)}: {escape(r['steps'][s]['error'])}</li>"
             for n, r in sorted(nets.items()) for s in STEPS
             if r["steps"][s].get("error")]
    items += [f"<li><b>{escape(n)}</b> check: the stick's result differs "
              "from TensorFlow's</li>"
              for n, r in sorted(nets.items())
              if r.get("check") and not (r["check"]["passed"]
                                         and r["check"]["top1_identical"])]
    if not items:
        return ""
    return f'<h2>Failures</h2>\n<ul class="errors">{"".join(items)}</ul>'


def header(report):
    s, st = report["summary"], report["settings"]
    ok = s["failed"] == 0
    line = (f"{s['nets']} net{'s' if s['nets'] != 1 else ''}, "
            f"{s['failed']} failed")
    if s["failed"]:
        line += ": " + ", ".join(s["failed_nets"])
    synthetic = any(r["synthetic"] for r in report["nets"].values())
    warn = ('<p class="warn">Built from SYNTHETIC weights: the metrics show '
            "the stick agrees with TensorFlow, not that the nets recognise "
            "anything.</p>") if synthetic else ""
    return (f"<h1>zoo-to-stick nightly, {escape(report['date'])}</h1>\n"
            f'<div class="summary {"ok" if ok else "bad"}" id="summary">'
            f"{escape(line)}</div>\n"
            f'<p class="meta">source {escape(str(st["source"]))} · compiled '
            f"for {st['shaves']} SHAVEs · {st['workers']} worker(s) · "
            f"{st['wall_seconds']:,.0f} s wall time · Luigi: "
            f"{escape(report['luigi_status'])}</p>\n{warn}")


def render(report):
    """The whole page for a report dict (as in report.json)."""
    nets = report["nets"]
    body = "\n".join([
        header(report),
        "<h2>Nets</h2>",
        '<p class="meta">Steps: ✓ built in this run (seconds) · = kept: up '
        "to date, not rebuilt · ✗ failed (hover for the error) · – not run. "
        "Errors in % of max|expected| as mvNCCheck reports them; Top-1: the "
        "stick's class against TensorFlow's; ms and FPS @12: the cost model's "
        "inference time at 12 SHAVEs.</p>",
        table(nets),
        failures_section(nets),
        f"<h2>Changes since the previous report</h2>\n"
        f"{changes_section(report)}",
        "<h2>Across the zoo</h2>", charts(nets)])
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>zoo-to-stick nightly {escape(report['date'])}</title>"
            f"<style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")
