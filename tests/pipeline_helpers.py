"""Shared helpers for the pipeline-level tests: run `luigi`/`luigid` as real
processes, count task runs, and check that no artifact is partial or stale."""
import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SMALL = "mobilenet_v1_0.25_128"
TARGETS = ("FetchCheckpoint", "ExportInferenceGraph", "FreezeGraph",
           "CompileModel", "CheckModel")
STEP_OF = dict(zip(TARGETS, ("fetch", "export", "freeze", "compile", "check")))
# The last step the pipeline tests build to. CheckModel means the whole
# pipeline through the real BuildZoo task; an earlier step uses the probe's
# ProbeZoo wrapper cut there.
PIPELINE_END = "CheckModel"


def end_families(end=None):
    """The task families a build up to `end` runs for each net."""
    return TARGETS[:TARGETS.index(end or PIPELINE_END) + 1]


def tool(name):
    """A console script of this venv (luigi, luigid, mvNCCompile)."""
    path = BIN / name
    assert path.exists(), f"{path} is missing from the venv"
    return str(path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SNAPSHOT = {"src": None}
_IGNORE = (".venv", ".git", "artifacts", "__pycache__", ".pytest_cache",
           "*.egg-info", "bench", "build")


def snapshot_sources(tmp_path_factory):
    """Copy the source tree once per session; every pipeline process runs it.

    A build must be a function of one fixed source: code digests are part of
    every step key and of the manifest, so an edit to the checkout during a
    long test (a shared checkout has them) would otherwise make two builds
    of the same test differ. Returns the copy's root.
    """
    import shutil
    src = tmp_path_factory.getbasetemp() / "src"
    if not src.exists():
        tmp = tmp_path_factory.getbasetemp() / "src.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(REPO, tmp, ignore=shutil.ignore_patterns(*_IGNORE))
        os.replace(tmp, src)
    _SNAPSHOT["src"] = src
    return src


def source_root():
    """The sources pipeline processes run (the session's snapshot if taken)."""
    return _SNAPSHOT["src"] or REPO


def pipeline_env(root, probe_dir=None, kill=None, settings=None, extra=None):
    """Environment of one worker: its artifact root, the probe, no user config."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ZOO_TO_STICK_", "ZTS_", "LUIGI_"))}
    env["ZOO_TO_STICK_ARTIFACTS"] = str(root)
    src = source_root()
    env["PYTHONPATH"] = os.pathsep.join([str(src / "tests"), str(src)])
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["LUIGI_CONFIG_PATH"] = str(src / "tests" / "data" / "nonexistent-luigi.cfg")
    if probe_dir is not None:
        env["ZTS_PROBE_DIR"] = str(probe_dir)
    if kill is not None:
        env["ZTS_KILL"] = kill
    if settings is not None:
        env["ZOO_TO_STICK_SETTINGS"] = str(settings)
    env.update(extra or {})
    return env


def luigi_args(task, names=None, name=None, source="synthetic", extra=()):
    args = [tool("luigi"), "--module", "luigi_probe", task, "--source", source,
            "--workers", "1", "--no-lock"]
    if name is not None:
        args += ["--name", name]
    if names is not None:
        args += ["--names", json.dumps(list(names))]
    return args + list(extra)


def zoo_args(names, end=None, extra=()):
    """One worker building `names` up to `end` (BuildZoo for the whole way)."""
    end = end or PIPELINE_END
    if end == "CheckModel":
        return luigi_args("BuildZoo", names=names, extra=extra)
    return luigi_args("ProbeZoo", names=names, extra=["--upto", end, *extra])


def run_luigi(args, env, timeout=600):
    """Run one worker to the end; returns the CompletedProcess (text output)."""
    return subprocess.run(args, env=env, cwd=source_root(), capture_output=True,
                          text=True, timeout=timeout)


def luigi_succeeded(proc):
    """Luigi exits 0 even when a task fails; its summary says the truth."""
    out = proc.stdout + proc.stderr
    return (proc.returncode == 0
            and "This progress looks :) because there were no failed" in out)


def tail(proc, n=40):
    text = (proc.stdout or "") + (proc.stderr or "")
    return "\n".join(text.splitlines()[-n:])


# -- run counting ------------------------------------------------------

def markers(probe_dir, event=None):
    """[(event, family, name, pid, text)] for every marker the probe wrote."""
    out = []
    for p in sorted(Path(probe_dir).iterdir()):
        ev, family, rest = p.name.split(".", 2)
        name, pid, _ns = rest.rsplit(".", 2)
        if event is None or ev == event:
            out.append((ev, family, name, int(pid), p.read_text()))
    return out


def run_counts(probe_dir, event="start"):
    """{(family, name): number of runs} from the probe's markers."""
    counts = {}
    for _ev, family, name, _pid, _text in markers(probe_dir, event):
        counts[(family, name)] = counts.get((family, name), 0) + 1
    return counts


# -- artifacts ----------------------------------------------------------

def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def is_temporary(rel):
    """Names the pipeline uses while writing (never taken as finished)."""
    parts = Path(rel).parts
    return any(p.startswith(".") and p != ".stamps" for p in parts) or \
        rel.endswith((".part", ".lock", ".tmp"))


def finished_files(net_dir):
    """{relative path: sha256} of every non-temporary file, stamps excluded
    (they record mtimes, which differ between builds by design)."""
    net_dir = Path(net_dir)
    out = {}
    for p in sorted(net_dir.rglob("*")):
        rel = str(p.relative_to(net_dir))
        if p.is_file() and not rel.startswith(".stamps") and not is_temporary(rel):
            out[rel] = sha256(p)
    return out


def _in_sources(function, *args):
    """Call this module's `function` in a process running the pipeline's own
    sources (see snapshot_sources), so its keys match what the workers saw."""
    if source_root() == REPO:
        return globals()[function](*args)
    code = ("import json, sys; import pipeline_helpers as h; "
            "print(json.dumps(getattr(h, sys.argv[1])(*json.loads(sys.argv[2]))))")
    arg = json.dumps([str(a) if isinstance(a, Path) else a for a in args])
    proc = subprocess.run([sys.executable, "-c", code, function, arg],
                          env=pipeline_env(args[0]), cwd=source_root(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def audit(root, source="synthetic", settings=None):
    """`audit_here`, evaluated by the pipeline's own sources."""
    return _in_sources("audit_here", root, source, settings and str(settings))


def taken_as_finished(root, name, family, source="synthetic", settings=None):
    """`finished_here`, evaluated by the pipeline's own sources."""
    return _in_sources("finished_here", root, name, family, source,
                       settings and str(settings))


def audit_here(root, source="synthetic", settings=None):
    """Problems with the stamped artifacts under `root` (empty = none).

    Every stamp must be readable JSON whose outputs all exist with the
    recorded sha256 (steps.artifacts.verify_stamp) and none of them may be a
    temporary file; when a later run (same settings) would take CompileModel
    as finished, the manifest must list sha256s that match the files. (A
    stamp is the only thing a run takes as "finished", so this is the whole
    of what must never be partial.)
    """
    from steps.artifacts import read_stamp, stamp_path, verify_stamp
    from steps.plan import STEPS

    bad = []
    if not Path(root).exists():
        return bad
    for net_dir in sorted(Path(root).iterdir()):
        if not net_dir.is_dir():
            continue
        for step in STEPS:
            if not stamp_path(net_dir, step).exists():
                continue
            stamp = read_stamp(net_dir, step)
            if stamp is None:
                bad.append(f"{net_dir.name}/{step}: unreadable stamp")
                continue
            bad += [f"{net_dir.name}/{b}" for b in verify_stamp(net_dir, step)]
            for rel in stamp["outputs"]:
                if is_temporary(rel):
                    bad.append(f"{net_dir.name}/{step}: stamps temporary {rel}")
            if step == "compile" and finished_here(
                    root, net_dir.name, "CompileModel", source, settings):
                bad += _audit_manifest(net_dir)
    return bad


def finished_here(root, name, family, source="synthetic", settings=None):
    """Whether a run with this artifact root and settings would skip the task
    (the task's own complete(), evaluated under that environment)."""
    import tasks
    from zoo.settings import settings_path
    keys = ("ZOO_TO_STICK_ARTIFACTS", "ZOO_TO_STICK_SETTINGS",
            "ZOO_TO_STICK_CATALOGUE")
    saved = {k: os.environ.get(k) for k in keys}
    try:
        for k in keys:
            os.environ.pop(k, None)
        os.environ["ZOO_TO_STICK_ARTIFACTS"] = str(root)
        if settings is not None:
            os.environ["ZOO_TO_STICK_SETTINGS"] = str(settings)
        assert settings_path() == Path(settings or Path(tasks.__file__).parent.parent / "pipeline.yaml")
        return getattr(tasks, family)(name=name, source=source).complete()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def leftovers(root):
    """Temporary files and directories a killed run left behind."""
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*")
                  if is_temporary(str(p.relative_to(root))))


def rename_counts(probe_dir):
    """{family: renames one successful run made} from the probe's markers."""
    out = {}
    for _ev, family, _name, _pid, text in markers(probe_dir, "success"):
        for line in text.splitlines():
            if line.startswith("renames="):
                out[family] = max(out.get(family, 0), int(line.split("=")[1]))
    return out


def _audit_manifest(net_dir):
    path = net_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return [f"{net_dir.name}: manifest unreadable ({exc})"]
    bad = []
    for rel, want in manifest.get("files", {}).items():
        p = net_dir / rel
        if not p.is_file():
            bad.append(f"{net_dir.name}: manifest lists missing {rel}")
        elif sha256(p) != want:
            bad.append(f"{net_dir.name}: manifest sha256 of {rel} is wrong")
    if not manifest.get("files"):
        bad.append(f"{net_dir.name}: manifest lists no files")
    return bad


def stamps(root, name):
    from steps.artifacts import read_stamp
    from steps.plan import STEPS
    return {s: read_stamp(Path(root) / name, s) for s in STEPS}


# -- the central scheduler ----------------------------------------------

class Luigid:
    """A private `luigid` on 127.0.0.1:<free port>, stopped on exit."""

    def __init__(self, workdir, history_db=None):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.history_db = history_db
        self.proc = None

    def __enter__(self):
        w = self.workdir
        (w / "logs").mkdir(parents=True, exist_ok=True)
        cfg = w / "luigid.cfg"
        lines = ["[scheduler]", "retry_count = 0", "disable_window = 3600"]
        if self.history_db:
            lines += ["record_task_history = true", "",
                      "[task_history]",
                      f"db_connection = sqlite:///{self.history_db}"]
        cfg.write_text("\n".join(lines) + "\n")
        env = pipeline_env(w / "unused")
        env["LUIGI_CONFIG_PATH"] = str(cfg)
        self.log = open(w / "luigid.out", "wb")
        self.proc = subprocess.Popen(
            [tool("luigid"), "--address", "127.0.0.1", "--port", str(self.port),
             "--state-path", str(w / "state.pickle"), "--logdir", str(w / "logs")],
            env=env, cwd=w, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.api("task_list")
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise RuntimeError("luigid did not start: "
                                       + (w / "luigid.out").read_text()[-2000:])
                time.sleep(0.2)

    def api(self, method, **data):
        q = urllib.parse.quote(json.dumps(data))
        url = f"http://127.0.0.1:{self.port}/api/{method}?data={q}"
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())["response"]

    def flags(self):
        return ["--scheduler-host", "127.0.0.1", "--scheduler-port", str(self.port)]

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if getattr(self, "log", None):
            self.log.close()


@contextlib.contextmanager
def processes():
    """A list to put Popen objects in; every one still alive is killed on exit."""
    procs = []
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        for p in procs:
            with contextlib.suppress(Exception):
                p.wait(timeout=15)


# -- one reference build per test session -------------------------------

def reference_build(tmp_path_factory, names, end=None):
    """A single-worker, local-scheduler build of `names` up to `end`, made
    once per session and shared by every test file that asks for it."""
    end = end or PIPELINE_END
    key = hashlib.sha256(json.dumps([end, sorted(names)]).encode()).hexdigest()[:12]
    base = tmp_path_factory.getbasetemp() / f"reference-{key}"
    root, done = base / "artifacts", base / "DONE"
    if done.exists():
        return root
    base.mkdir(exist_ok=True)
    probe = base / "probe"
    probe.mkdir(exist_ok=True)
    proc = run_luigi(zoo_args(names, end), pipeline_env(root, probe), timeout=1200)
    assert luigi_succeeded(proc), tail(proc)
    done.write_text("ok\n")
    return root


# -- settings, catalogue and tarballs for one test ----------------------

def write_settings(path, artifact_root=None, catalogue=None, checksum_lock=None,
                   **overrides):
    """A pipeline.yaml copy at `path` with absolute paths and `overrides`
    (e.g. download={...}); point ZOO_TO_STICK_SETTINGS at it."""
    import yaml
    raw = yaml.safe_load((source_root() / "pipeline.yaml").read_text())
    path = Path(path)
    raw["artifact_root"] = str(artifact_root or path.parent / "artifacts")
    raw["catalogue"] = str(catalogue or source_root() / "zoo" / "catalogue.yaml")
    raw["checksum_lock"] = str(checksum_lock or path.parent / "checksums.lock")
    for key, value in overrides.items():
        if isinstance(value, dict):
            raw.setdefault(key, {}).update(value)
        else:
            raw[key] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=True))
    return path


def catalogue_copy(path, name, **fields):
    """The catalogue with `fields` of entry `name` changed, written to `path`."""
    import yaml
    raw = yaml.safe_load((source_root() / "zoo" / "catalogue.yaml").read_text())
    raw["nets"][name].update(fields)
    Path(path).write_text(yaml.safe_dump(raw, sort_keys=True))
    return Path(path)


def synthetic_tarball(tmp_path_factory, name=SMALL, seed=0):
    """steps.synthetic.build_synthetic_tarball for `name`, once per session
    (in a subprocess, so TensorFlow stays out of the test process)."""
    base = tmp_path_factory.getbasetemp() / f"synthetic-{name}-{seed}"
    out = base / "tarball"
    if out.exists():
        return next(out.iterdir())
    code = ("import sys; from zoo.catalogue import get_entry; "
            "from steps.synthetic import build_synthetic_tarball as b; "
            "e = get_entry(sys.argv[1]); "
            "b(e, sys.argv[2] + '/' + e.tarball, int(sys.argv[3]))")
    tmp = base / "building"
    tmp.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-c", code, name, str(tmp), str(seed)],
                          env=pipeline_env(base / "unused"), cwd=source_root(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    os.replace(tmp, out)
    return next(out.iterdir())


_SMALL_GRAPH_CODE = r'''
import sys
import numpy as np
from tfcompat import tf, tf1
rng = np.random.default_rng(7)
def const(*shape):
    return tf.constant(rng.normal(0, 0.3, shape).astype(np.float32))
g = tf.Graph()
with g.as_default():
    x = tf1.placeholder(tf.float32, [1, 16, 16, 3], name="input")
    y = tf.nn.conv2d(x, const(3, 3, 3, 8), [1, 1, 1, 1], "SAME")
    y = tf.nn.relu(tf.nn.bias_add(y, const(8)))
    y = tf.nn.depthwise_conv2d(y, const(3, 3, 8, 1), [1, 2, 2, 1], "SAME")
    y = tf.nn.relu6(y * const(8) + const(8))
    y = tf.nn.max_pool2d(y, 2, 2, "VALID")
    y = tf.nn.conv2d(y, const(1, 1, 8, 16), [1, 1, 1, 1], "VALID")
    y = tf.nn.avg_pool2d(y, 4, 4, "VALID")
    y = tf.reshape(y, [1, 16])
    y = tf.nn.softmax(tf.matmul(y, const(16, 10)) + const(10), name="output")
open(sys.argv[1], "wb").write(g.as_graph_def().SerializeToString(deterministic=True))
'''


def small_frozen_graph(tmp_path_factory):
    """A small frozen GraphDef (conv, bias, relu, depthwise, scale, relu6,
    pools, reshape, matmul, softmax; input `input` 16x16x3, output `output`),
    made with TensorFlow once per session in a subprocess."""
    out = tmp_path_factory.getbasetemp() / "small_frozen.pb"
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        proc = subprocess.run([sys.executable, "-c", _SMALL_GRAPH_CODE, str(tmp)],
                              env=pipeline_env(out.parent / "unused"), cwd=source_root(),
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        os.replace(tmp, out)
    return out
