"""Test-only Luigi module: `luigi --module luigi_probe <Task> ...` (tests/ on PYTHONPATH).

Imports `tasks` (so every pipeline task is known) and adds two things, both
driven by environment variables so that a test controls a worker process it
only starts:

``ZTS_PROBE_DIR``  every task START and SUCCESS/FAILURE writes one marker file
                   ``<event>.<family>.<name>.<pid>.<ns>`` there, so a test can
                   count runs across processes without trusting the scheduler.
                   SUCCESS markers also hold the number of renames the task made.

``ZTS_KILL``       ``<family>:<point>``: SIGKILL this process inside that task.
                   ``start``     at once, when the task starts;
                   ``before:N``  just before its N-th os.replace/os.rename (the
                                 N-th output is whole, under its temporary name);
                   ``after:N``   just after its N-th rename;
                   ``delay:S``   S seconds after the task starts (mid-work).
                   Renames are how every step publishes an output (atomic_path,
                   make_tarball, safe_extract, the download), so these points
                   land between and inside a step's outputs deterministically.
"""
import os
import signal
import threading
import time

import luigi

import tasks  # noqa: F401  (registers the pipeline's tasks)

_state = {"armed": None, "count": 0}
_real_replace, _real_rename = os.replace, os.rename


def _die():
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)  # never reached


def _kill_spec():
    spec = os.environ.get("ZTS_KILL", "")
    if not spec:
        return None, None
    family, _, point = spec.partition(":")
    return family, point


def _counted(real):
    def wrapper(src, dst, *a, **kw):
        point = _state["armed"]
        if point is None:
            return real(src, dst, *a, **kw)
        _state["count"] += 1
        if point == f"before:{_state['count']}":
            _die()
        result = real(src, dst, *a, **kw)
        if point == f"after:{_state['count']}":
            _die()
        return result
    return wrapper


os.replace = _counted(_real_replace)
os.rename = _counted(_real_rename)


def _marker(event, task, extra=""):
    where = os.environ.get("ZTS_PROBE_DIR")
    if not where:
        return
    name = getattr(task, "name", "-")
    path = os.path.join(where, f"{event}.{task.task_family}.{name}."
                               f"{os.getpid()}.{time.time_ns()}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(f"{task.task_id}\n{extra}")
        f.flush()
        os.fsync(f.fileno())


@luigi.Task.event_handler(luigi.Event.START)
def _on_start(task):
    _state["count"] = 0
    _state["armed"] = "count"
    _marker("start", task)
    family, point = _kill_spec()
    if family != task.task_family:
        return
    if point == "start":
        _die()
    if point.startswith("delay:"):
        timer = threading.Timer(float(point.split(":", 1)[1]), _die)
        timer.daemon = True
        timer.start()
    else:
        _state["armed"] = point


@luigi.Task.event_handler(luigi.Event.SUCCESS)
def _on_success(task):
    _marker("success", task, f"renames={_state['count']}\n")
    _state["armed"] = None


@luigi.Task.event_handler(luigi.Event.FAILURE)
def _on_failure(task, exc):
    _marker("failure", task, f"{type(exc).__name__}: {exc}\n")
    _state["armed"] = None


class ProbeZoo(luigi.WrapperTask):
    """BuildZoo cut at any step: `ProbeZoo --names '[...]' --upto FreezeGraph`."""
    names = luigi.ListParameter()
    source = luigi.Parameter(default="synthetic")
    upto = luigi.ChoiceParameter(choices=["FetchCheckpoint", "ExportInferenceGraph",
                                          "FreezeGraph", "CompileModel",
                                          "CheckModel"], default="CheckModel")

    def requires(self):
        return [getattr(tasks, self.upto)(name=n, source=self.source)
                for n in self.names]
