"""Check: a graph file on the emulated stick against TensorFlow on the frozen graph.

As NCSDK's mvNCCheck: one input (seeded random in the net's input range),
both results' top-5 and the metrics relative to max|expected|.
"""
import contextlib
import io
import json
import os

import numpy as np

from ncsdk import metrics
from emulator.infer import run_once
from steps.artifacts import write_bytes, write_json


class CheckFailed(RuntimeError):
    """The stick disagrees with TensorFlow beyond NCSDK's limits (or on top-1)."""


def random_input(shape, value_range, seed):
    lo, hi = value_range
    rng = np.random.default_rng(seed)
    return rng.uniform(lo, hi, shape).astype(np.float16)


@contextlib.contextmanager
def _one_blas_thread():
    """Checks may run side by side (--workers N): one BLAS thread each,
    unless the user chose otherwise (see emulator/ops/blas.py)."""
    key = "MVNC_EMULATOR_BLAS_THREADS"
    if key in os.environ:
        yield
        return
    os.environ[key] = "1"
    try:
        yield
    finally:
        del os.environ[key]


def _npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _plain(obj):
    """numpy scalars and arrays as JSON-ready Python values."""
    def default(o):
        if isinstance(o, (np.generic, np.ndarray)):
            return o.tolist()
        raise TypeError(f"not JSON: {type(o)}")
    return json.loads(json.dumps(obj, default=default))


def check_graph(graph_path, frozen_pb, input_node, output_node, image_size,
                value_range, seed, out_dir):
    """Run both sides, write result/expected .npy and check.json; return it."""
    from references.tensorflow import run_frozen

    x16 = random_input((image_size, image_size, 3), value_range, seed)
    with open(graph_path, "rb") as f, _one_blas_thread():
        result, times = run_once(f.read(), x16, "check")
    expected = run_frozen(frozen_pb, input_node, output_node,
                          x16.astype(np.float32)[None]).reshape(-1)
    report = metrics.compare(result.astype(np.float32).reshape(-1), expected)
    text = metrics.format_report(result.reshape(-1), expected, report)
    summary = _plain({
        "metrics": report,
        "passed": bool(report["passed"]),
        "top1_result": int(np.argmax(result)),
        "top1_expected": int(np.argmax(expected)),
        "stage_ms": [round(float(t), 6) for t in times],
        "inference_ms": round(float(np.sum(times)), 6),
        "text": text})
    summary["top1_identical"] = summary["top1_result"] == summary["top1_expected"]
    write_bytes(out_dir / "result.npy", _npy_bytes(result))
    write_bytes(out_dir / "expected.npy", _npy_bytes(expected))
    write_bytes(out_dir / "check.txt", (text + "\n").encode())
    write_json(out_dir / "check.json", summary)
    return summary


def check_step(job):
    from steps.artifacts import remove_stamp, write_stamp
    from steps.plan import check_key

    p, e = job.paths, job.entry
    remove_stamp(p.dir, "check")
    summary = check_graph(p.graph, p.frozen_pb, e.input_node, e.output_node,
                          e.image_size, e.input_range, job.seed, p.check_dir)
    outputs = [p.check_dir / f for f in ("result.npy", "expected.npy",
                                         "check.txt", "check.json")]
    if not (summary["passed"] and summary["top1_identical"]):
        raise CheckFailed(f"{e.name}: the emulated stick's result differs from "
                          f"TensorFlow's:\n{summary['text']}")
    return write_stamp(p.dir, "check", check_key(job), outputs,
                       {"passed": summary["passed"]})
