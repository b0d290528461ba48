"""mvNCCheck's comparison of a stick's result with the framework's.

All errors are relative to ref = max|expected| and reported in percent:
max error ("Min Pixel Accuracy" in NCSDK's wording) <= 2 %, mean error
("Average Pixel Accuracy") <= 1 %, share of values off by more than 2 % of
ref ("Percentage of wrong values") <= 0 %, RMS error ("Pixel-wise L2
error") <= 1 %. A NaN or inf anywhere in the result fails every test.
"""
import numpy as np

WRONG_THRESHOLD = 2.0       # percent of ref beyond which a value is wrong
TESTS = (   # key, NCSDK label, allowed percent
    ("max_error", "Min Pixel Accuracy", 2.0),
    ("mean_error", "Average Pixel Accuracy", 1.0),
    ("wrong_share", "Percentage of wrong values", 0.0),
    ("rms_error", "Pixel-wise L2 error", 1.0),
)
RULE = "-" * 60


def top5(values):
    """[(index, value)] of the five largest values, largest first (flat)."""
    flat = np.asarray(values, np.float64).reshape(-1)
    order = np.argsort(-flat, kind="stable")[:5]
    return [(int(i), float(flat[i])) for i in order]


def compare(result, expected):
    """The four NCSDK checks of result against expected, as a dict."""
    r = np.asarray(result, np.float64).reshape(-1)
    e = np.asarray(expected, np.float64).reshape(-1)
    if r.shape != e.shape:
        raise ValueError(f"result has {r.size} values, expected {e.size}")
    ref = float(np.max(np.abs(e))) if e.size else 0.0
    scale = ref if ref > 0 else 1.0     # all-zero expected: absolute errors
    diff = np.abs(r - e)
    diff[~np.isfinite(diff)] = np.inf
    with np.errstate(invalid="ignore"):
        values = {
            "max_error": 100 * float(diff.max()) / scale,
            "mean_error": 100 * float(diff.mean()) / scale,
            "wrong_share": 100 * float(np.mean(
                diff > WRONG_THRESHOLD / 100 * scale)),
            "rms_error": 100 * float(np.sqrt(np.mean(diff ** 2))) / scale,
        }
    out = {"reference": ref}
    for key, label, allowed in TESTS:
        v = values[key]
        out[key] = {"label": label, "value": v, "allowed": allowed,
                    "passed": bool(np.isfinite(v) and v <= allowed)}
    out["global_sum_difference"] = float(diff.sum())
    out["top5_result"] = top5(r)
    out["top5_expected"] = top5(e)
    out["passed"] = all(out[k]["passed"] for k, _, _ in TESTS)
    return out


def _pct(v):
    """A percent as NCSDK printed it: Python's shortest float repr."""
    return repr(float(v)) if np.isfinite(v) else "inf"


def _top5_lines(title, shape, pairs):
    lines = [f"{title}:  {tuple(shape)}"]
    lines += [f"{n}) {i} {v:.4g}" for n, (i, v) in enumerate(pairs, 1)]
    return lines


def format_report(result, expected, metrics=None):
    """The text block mvNCCheck printed: top-5 of each, then the four tests."""
    m = metrics or compare(result, expected)
    lines = _top5_lines("Result", np.shape(result), m["top5_result"])
    lines += _top5_lines("Expected", np.shape(expected), m["top5_expected"])
    lines += [RULE, " Obtained values ", RULE]
    for key, label, allowed in TESTS:
        t = m[key]
        verdict = "Pass" if t["passed"] else "Fail"
        lines.append(f" Obtained {label}: {_pct(t['value'])}% "
                     f"(max allowed={allowed:g}%), {verdict}")
    lines.append(f" Obtained Global Sum Difference: "
                 f"{m['global_sum_difference']!r}")
    lines.append(RULE)
    return "\n".join(lines)
