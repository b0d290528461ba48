"""Nightly: rebuild the zoo, check and profile every graph, write a report.

    python -m steps.nightly [--source S] [--names N ...] [--workers N]
                            [--shaves N] [--date YYYY-MM-DD]
                            [--scheduler-host H [--scheduler-port P]]

(console script `zoo-nightly`). Runs one CheckModel per net through Luigi
(local scheduler unless a scheduler host is given), so the rest of the zoo
is built when one net fails. Then writes `artifacts/reports/<date>/`
`report.json` and a self-contained `index.html`: per net each step's status
and duration, the graph's size, the check's metrics, the predicted inference
time and frames per second, a chart, and what changed since the newest
earlier report. Exit status 0 when every net passed, 1 when any failed, 2
for bad usage. Cron-friendly: no terminal needed, everything is in the report
and the exit status.

Step durations come from Luigi's events, recorded by handlers registered for
the run: they append one JSON line per event to a file, because with several
workers Luigi runs each task in a forked process whose memory the nightly
never sees.
"""
import argparse
import contextlib
import datetime
import json
import os
import sys
import time
from pathlib import Path

import luigi

from steps.artifacts import sha256_file, write_bytes, write_json
from steps.plan import STEPS, make_job

EVENTS_FILE = ".events.jsonl"
METRICS = ("max_error", "mean_error", "wrong_share", "rms_error")
TIMING_NOISE = (0.2, 1.0)     # a duration change counts above 20 % and 1 s


# -- recording Luigi's events ---------------------------------------------

class EventLog:
    """Luigi task events as JSON lines in one file, safe across processes."""

    def __init__(self, path):
        self.path = Path(path)

    def reset(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")

    def record(self, task, event, **fields):
        step, name = getattr(task, "step", None), getattr(task, "name", None)
        if step is None or name is None:
            return          # not a per-net step (e.g. a wrapper task)
        line = json.dumps({"net": name, "step": step, "event": event,
                           "t": time.time(), **fields}) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())     # one write: lines never interleave
        finally:
            os.close(fd)

    def read(self):
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line]


def _error_text(exc):
    lines = str(exc).strip().splitlines() or [""]
    return f"{type(exc).__name__}: {lines[-1] if len(lines) > 3 else ' '.join(lines)}"[:400]


@contextlib.contextmanager
def recording(log):
    """Register the event handlers on luigi.Task for one run, then remove them."""
    handlers = {
        luigi.Event.START: lambda task: log.record(task, "start"),
        luigi.Event.PROCESSING_TIME: lambda task, seconds: log.record(
            task, "time", seconds=round(float(seconds), 3)),
        luigi.Event.SUCCESS: lambda task: log.record(task, "success"),
        luigi.Event.FAILURE: lambda task, exc: log.record(
            task, "failure", error=_error_text(exc)),
    }
    for event, handler in handlers.items():
        luigi.Task.event_handler(event)(handler)
    try:
        yield log
    finally:
        callbacks = luigi.Task._event_callbacks.get(luigi.Task, {})
        for event, handler in handlers.items():
            callbacks.get(event, set()).discard(handler)


# -- what each step did ------------------------------------------------------

def step_statuses(events, current):
    """{step: {status, seconds?, error?}} for one net.

    done: ran and succeeded in this run; failed: ran and raised; up to date:
    did not need to run (its stamp is current); not run: neither (an upstream
    step failed, or the run stopped first).
    """
    out = {}
    for step in STEPS:
        mine = [e for e in events if e["step"] == step]
        kinds = {e["event"]: e for e in mine}
        seconds = sum(e.get("seconds", 0) for e in mine if e["event"] == "time")
        if "failure" in kinds:
            # Luigi times only successes: a failure's time is start to failure
            began = kinds.get("start", kinds["failure"])["t"]
            out[step] = {"status": "failed",
                         "seconds": round(kinds["failure"]["t"] - began, 3),
                         "error": kinds["failure"]["error"]}
        elif "success" in kinds:
            out[step] = {"status": "done", "seconds": round(seconds, 3)}
        elif current.get(step):
            out[step] = {"status": "up to date"}
        else:
            out[step] = {"status": "not run"}
    return out


def step_tasks(name, source, shaves):
    """{step: its Luigi task} for one net, found by walking CheckModel's
    requirements, so the nightly follows whatever the DAG is."""
    from tasks import CheckModel
    found, todo = {}, [CheckModel(name=name, source=source, shaves=shaves)]
    while todo:
        task = todo.pop()
        found[task.step] = task
        todo += luigi.task.flatten(task.requires())
    return found


def current_steps(name, source, shaves):
    """{step: complete?} exactly as Luigi decides it (its stamp is current and
    so is everything upstream)."""
    return {s: t.complete() for s, t in step_tasks(name, source, shaves).items()}


def metric_value(metrics, key):
    """A check metric as a number, whether stored bare or as {value: ...}."""
    v = metrics.get(key)
    return v.get("value") if isinstance(v, dict) else v


def predicted_ms_at_12(graph_path, check, shaves):
    """The check's cost-model time when compiled for 12 shaves, else an
    estimate at 12 shaves from the graph's stages with the same cost model."""
    if shaves == 12:
        return check.get("inference_ms")
    from emulator.costmodel import graph_times_ms
    from emulator.reader import load_graph
    return round(sum(graph_times_ms(load_graph(graph_path.read_bytes()).stages,
                                    12)), 6)


def _check_result(job, steps, run_start):
    """check.json when it belongs to this build: current, or written by a
    check that failed in this run (then it says why)."""
    path = job.paths.check_dir / "check.json"
    status = steps["check"]["status"]
    if not path.exists() or status == "not run":
        return None
    if status == "failed" and path.stat().st_mtime < run_start:
        return None
    return json.loads(path.read_text())


def net_result(job, events, run_start):
    """One net's line of the report."""
    p = job.paths
    steps = step_statuses(events, current_steps(job.entry.name, job.source,
                                                job.shaves))
    done = ("done", "up to date")
    rec = {"steps": steps,
           "build_seconds": round(sum(s.get("seconds", 0)
                                      for s in steps.values()), 3),
           "shaves": job.shaves, "synthetic": job.synthetic,
           "graph_bytes": None, "graph_sha256": None, "check": None,
           "inference_ms_12": None, "fps_12": None}
    if steps["compile"]["status"] in done:
        rec["graph_bytes"] = p.graph.stat().st_size
        rec["graph_sha256"] = sha256_file(p.graph)
    check = _check_result(job, steps, run_start)
    if check is not None:
        rec["check"] = {"passed": check["passed"],
                        "top1_identical": check["top1_identical"],
                        "top1": check["top1_result"],
                        "metrics": {k: metric_value(check["metrics"], k)
                                    for k in METRICS},
                        "inference_ms": check["inference_ms"]}
        ms = predicted_ms_at_12(p.graph, check, job.shaves)
        rec["inference_ms_12"] = ms
        rec["fps_12"] = round(1000.0 / ms, 3) if ms else None
    ok = (all(s["status"] in done for s in steps.values())
          and check is not None and check["passed"]
          and check["top1_identical"])
    rec["status"] = "ok" if ok else "failed"
    return rec


# -- comparing with the previous report -----------------------------------

def previous_report(reports_dir, date):
    """The newest report.json dated before `date`, or None."""
    earlier = sorted(d for d in Path(reports_dir).glob("*/report.json")
                     if d.parent.name < date)
    if not earlier:
        return None
    try:
        return json.loads(earlier[-1].read_text())
    except ValueError:
        return None


def _change(net, what, before, after):
    return {"net": net, "what": what, "before": before, "after": after}


def _timing_changed(a, b):
    rel, absolute = TIMING_NOISE
    return abs(a - b) > absolute and abs(a - b) > rel * max(abs(a), abs(b))


def net_changes(name, old, new):
    """What differs for one net between two reports' records."""
    out = []
    for key in ("status", "graph_bytes", "inference_ms_12"):
        if old.get(key) != new.get(key):
            out.append(_change(name, key, old.get(key), new.get(key)))
    if (old.get("graph_sha256") != new.get("graph_sha256")
            and old.get("graph_bytes") == new.get("graph_bytes")):
        out.append(_change(name, "graph bytes (same size)",
                           (old.get("graph_sha256") or "")[:12],
                           (new.get("graph_sha256") or "")[:12]))
    om = (old.get("check") or {}).get("metrics", {})
    nm = (new.get("check") or {}).get("metrics", {})
    for k in METRICS:
        if om.get(k) != nm.get(k):
            out.append(_change(name, k, om.get(k), nm.get(k)))
    for step in STEPS:
        a = old.get("steps", {}).get(step, {})
        b = new.get("steps", {}).get(step, {})
        if a.get("status") != b.get("status"):
            out.append(_change(name, f"{step} step", a.get("status"),
                               b.get("status")))
        elif ("seconds" in a and "seconds" in b
              and _timing_changed(a["seconds"], b["seconds"])):
            out.append(_change(name, f"{step} seconds", a["seconds"],
                               b["seconds"]))
    return out


def changes(previous, nets):
    """Every change since `previous` (None: nothing to compare with)."""
    if previous is None:
        return []
    old = previous.get("nets", {})
    out = []
    for name in sorted(set(old) | set(nets)):
        if name not in old:
            out.append(_change(name, "net", None, "added"))
        elif name not in nets:
            out.append(_change(name, "net", "present", None))
        else:
            out += net_changes(name, old[name], nets[name])
    return out


# -- the run -------------------------------------------------------------------

def make_report(date, settings, nets, previous, luigi_status):
    failed = sorted(n for n, r in nets.items() if r["status"] != "ok")
    return {"date": date, "settings": settings, "luigi_status": luigi_status,
            "summary": {"nets": len(nets), "failed": len(failed),
                        "failed_nets": failed},
            "previous": previous.get("date") if previous else None,
            "changes": changes(previous, nets), "nets": nets}


def write_report(out_dir, report):
    from steps.report_html import render
    write_json(out_dir / "report.json", report)
    write_bytes(out_dir / "index.html", render(report).encode())
    return out_dir / "index.html"


def run_luigi(names, source, shaves, workers, scheduler):
    """Build and check every net; Luigi goes on with the rest when one fails."""
    from tasks import CheckModel
    tasks = [CheckModel(name=n, source=source, shaves=shaves) for n in names]
    params = dict(workers=workers, detailed_summary=True, log_level="INFO")
    if scheduler.get("host"):
        params.update(local_scheduler=False, scheduler_host=scheduler["host"])
        if scheduler.get("port"):
            params["scheduler_port"] = scheduler["port"]
    else:
        params["local_scheduler"] = True
    result = luigi.build(tasks, **params)
    return result.status.name if result is not None else "UNKNOWN"


def nightly(date, names, source, shaves, workers=1, scheduler=None,
            reports_dir=None):
    """Build, check, report; returns (report, path of index.html)."""
    from zoo.settings import load_settings
    s = load_settings()
    reports_dir = Path(reports_dir or s.artifact_root / "reports")
    out_dir = reports_dir / date
    log = EventLog(out_dir / EVENTS_FILE)
    log.reset()
    start = time.time()
    with recording(log):
        status = run_luigi(names, source, shaves, workers, scheduler or {})
    events = log.read()
    nets = {n: net_result(make_job(n, source, shaves),
                          [e for e in events if e["net"] == n], start)
            for n in names}
    settings = {"source": source, "shaves": shaves, "workers": workers,
                "wall_seconds": round(time.time() - start, 1)}
    report = make_report(date, settings, nets,
                         previous_report(reports_dir, date), status)
    return report, write_report(out_dir, report)


def _date(text):
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date like 2024-05-31") from None


def parse_args(argv):
    from zoo.settings import load_settings
    s = load_settings()
    ap = argparse.ArgumentParser(
        prog="zoo-nightly",
        description="Rebuild the zoo with Luigi, check and profile every graph "
                    "on the emulated stick, write artifacts/reports/DATE/. "
                    "Exit 1 when any net fails.")
    ap.add_argument("--source", default=s.source,
                    help=f"checkpoint source (default: {s.source})")
    ap.add_argument("--names", nargs="+", metavar="NAME",
                    help="catalogue names (default: all nets)")
    ap.add_argument("--workers", type=int, default=1,
                    help="Luigi worker processes (default: 1)")
    ap.add_argument("--shaves", type=int, default=s.shaves,
                    help=f"SHAVEs to compile for (default: {s.shaves})")
    ap.add_argument("--date", type=_date,
                    default=datetime.date.today().isoformat(),
                    help="report date, YYYY-MM-DD (default: today)")
    ap.add_argument("--scheduler-host",
                    help="a luigid to use instead of the local scheduler")
    ap.add_argument("--scheduler-port", type=int)
    ap.add_argument("--reports-dir", type=Path,
                    help="where reports go (default: ARTIFACT_ROOT/reports)")
    return ap.parse_args(argv)


def _check_usage(args):
    from zoo.catalogue import load_catalogue
    known = list(load_catalogue())
    unknown = [n for n in args.names or [] if n not in known]
    if unknown:
        return (f"no net named {', '.join(unknown)} in the catalogue; known: "
                f"{', '.join(known)}")
    if args.workers < 1:
        return "--workers must be at least 1"
    if not 1 <= args.shaves <= 12:
        return "--shaves must be 1..12"
    return None


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    problem = _check_usage(args)
    if problem:
        print(f"zoo-nightly: {problem}", file=sys.stderr)
        return 2
    from zoo.catalogue import load_catalogue
    names = sorted(set(args.names or load_catalogue()))
    report, page = nightly(args.date, names, args.source, args.shaves,
                           args.workers, {"host": args.scheduler_host,
                                          "port": args.scheduler_port},
                           args.reports_dir)
    s = report["summary"]
    print(f"{s['nets']} net{'s' if s['nets'] != 1 else ''}, {s['failed']} failed"
          + (f": {', '.join(s['failed_nets'])}" if s["failed"] else ""))
    print(f"report: {page}")
    return 1 if s["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
