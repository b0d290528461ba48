"""mvNCProfile --compare: a measured NCSDK profile beside the prediction.

Measured files: the JSON of ncsdk/measurements/ (``layers``: name, ms,
mflops, mbps; ``total_ms``) or NCSDK's table as CSV (columns index, layer,
mflops, bandwidth_mb_s, time_ms, as tests/data's GoogLeNet profile). Layers
match stages by name: NCSDK's stage name, or for a Caffe network any name
NCSDK may have printed for the stage (the top of the last layer fused into
it; ncsdk.costfit.caffe_stage_names).
"""
import csv
import json
from pathlib import Path


class MeasuredFileError(ValueError):
    """A --compare file that is not a measured profile."""


def load_measured(path):
    """(total ms, [(name, ms)]) of a measured profile (JSON or CSV)."""
    path = Path(path)
    try:
        text = path.read_text()
        if path.suffix.lower() == ".csv":
            rows = list(csv.DictReader(text.splitlines()))
            layers = [(r["layer"], float(r["time_ms"])) for r in rows]
            return sum(t for _, t in layers), layers
        doc = json.loads(text)
        layers = [(l["name"], float(l["ms"])) for l in doc["layers"]]
        return float(doc.get("total_ms", sum(t for _, t in layers))), layers
    except (ValueError, KeyError, TypeError) as exc:
        raise MeasuredFileError(
            f"{path}: not a measured profile (JSON with layers[].name/ms or "
            f"CSV with layer,time_ms columns): {exc}") from None


def attach(profile, measured, aliases=None):
    """Set each row's measured_ms; return (measured total, measured layers
    no stage matched, stages no layer matched)."""
    total, layers = measured
    by_name = dict(layers)
    used = set()
    for r in profile.rows:
        cands = (aliases or {}).get(r.name, []) + [r.name]
        hit = next((c for c in cands if c in by_name and c not in used), None)
        r.measured_ms = by_name[hit] if hit is not None else None
        if hit is not None:
            used.add(hit)
    theirs = [n for n, _ in layers if n not in used]
    ours = [r.name for r in profile.rows if r.measured_ms is None]
    profile.comparison = {"measured_total_ms": total,
                          "unmatched_measured": theirs,
                          "unmatched_stages": ours}
    return profile.comparison


def format_comparison(profile):
    """Per layer: predicted and measured ms, error; totals; unmatched."""
    cmp_ = profile.comparison
    lines = ["Predicted vs measured per layer",
             f"{'#':<5}{'Name':<52}{'predicted':>11}{'measured':>10}"
             f"{'error':>9}", "=" * 87]
    pred = meas = 0.0
    for r in profile.rows:
        if r.measured_ms is None:
            lines.append(f"{r.index:<5}{r.name[:51]:<52}{r.time_ms:>11.2f}"
                         f"{'-':>10}{'':>9}")
            continue
        pred, meas = pred + r.time_ms, meas + r.measured_ms
        err = (f"{100 * (r.time_ms / r.measured_ms - 1):+8.1f}%"
               if r.measured_ms > 0 else f"{'':>9}")
        lines.append(f"{r.index:<5}{r.name[:51]:<52}{r.time_ms:>11.2f}"
                     f"{r.measured_ms:>10.2f}{err}")
    lines.append("-" * 87)
    if meas > 0:
        lines.append(f"{'Matched layers':<57}{pred:>11.2f}{meas:>10.2f}"
                     f"{100 * (pred / meas - 1):+8.1f}%")
    lines.append(f"{'Total inference time':<57}{profile.total_ms:>11.2f}"
                 f"{cmp_['measured_total_ms']:>10.2f}")
    for label, key in (("Measured layers with no stage", "unmatched_measured"),
                       ("Stages with no measured layer", "unmatched_stages")):
        names = cmp_[key]
        lines.append(f"{label} ({len(names)}): "
                     + (", ".join(names) if names else "none"))
    return "\n".join(lines)
