"""Where each net's artifacts live, and the key that decides each step's output.

A step's key is a digest of everything that determines its output: the
catalogue fields it reads, the settings that matter, the keys of the steps it
builds on, the versions of the tools and our own code. Change one of them and
exactly the steps downstream of it rebuild.
"""
from dataclasses import dataclass
from pathlib import Path

from steps.artifacts import digest
from steps.versions import code_digest, tool_versions
from zoo.catalogue import get_entry
from zoo.settings import load_settings

STEPS = ("fetch", "export", "freeze", "compile", "check")
TF_TOOLS = ("tensorflow", "tf-keras", "tf-slim", "numpy", "protobuf")


@dataclass(frozen=True)
class NetPaths:
    root: Path
    name: str

    @property
    def dir(self):
        return self.root / self.name

    def tarball(self, entry):
        return self.dir / "download" / entry.tarball

    @property
    def checkpoint_dir(self):
        return self.dir / "checkpoint"

    @property
    def inference_pb(self):
        return self.dir / f"{self.name}_inference_graph.pb"

    @property
    def frozen_pb(self):
        return self.dir / f"{self.name}_frozen.pb"

    @property
    def graph(self):
        return self.dir / f"{self.name}.graph"

    @property
    def manifest(self):
        return self.dir / "manifest.json"

    @property
    def check_dir(self):
        return self.dir / "check"


@dataclass(frozen=True)
class Job:
    """One net's build request: the entry, its source and shave count."""
    entry: object
    source: str
    shaves: int
    seed: int
    paths: NetPaths

    @property
    def synthetic(self):
        return self.source == "synthetic"


def make_job(name, source=None, shaves=None):
    s = load_settings()
    return Job(entry=get_entry(name), source=source or s.source,
               shaves=s.shaves if shaves is None else int(shaves), seed=s.seed,
               paths=NetPaths(s.artifact_root, name))


def _fields(entry, *names):
    d = entry.as_dict()
    return {n: d[n] for n in names}


def fetch_key(job):
    e = job.entry
    parts = {"step": "fetch", "source": job.source,
             "entry": _fields(e, "url", "tarball", "sha256", "checkpoint",
                              "checkpoint_format", "checkpoint_files"),
             "code": code_digest("steps/fetch.py", "steps/download.py",
                                 "steps/extract.py")}
    if job.synthetic:
        parts["synthetic"] = {
            "seed": job.seed,
            "entry": _fields(e, "model_name", "image_size", "num_classes"),
            "code": code_digest("steps/synthetic.py", "zoo/nets",
                                "tfcompat"),
            "tools": tool_versions(*TF_TOOLS)}
    return digest(parts)


def export_key(job):
    return digest({"step": "export",
                   "entry": _fields(job.entry, "model_name", "image_size",
                                    "num_classes"),
                   "code": code_digest("steps/export.py", "zoo/nets",
                                       "tfcompat"),
                   "tools": tool_versions(*TF_TOOLS)})


def freeze_key(job):
    return digest({"step": "freeze", "fetch": fetch_key(job),
                   "export": export_key(job),
                   "entry": _fields(job.entry, "output_node"),
                   "code": code_digest("steps/freeze.py", "tfcompat"),
                   "tools": tool_versions(*TF_TOOLS)})


def compile_key(job):
    return digest({"step": "compile", "freeze": freeze_key(job),
                   "shaves": job.shaves,
                   "entry": _fields(job.entry, "input_node", "output_node"),
                   "code": code_digest("steps/compile.py", "compiler",
                                       "ncsformat"),
                   "tools": tool_versions("numpy", "protobuf")})


def check_key(job):
    return digest({"step": "check", "compile": compile_key(job),
                   "seed": job.seed,
                   "entry": _fields(job.entry, "input_node", "output_node",
                                    "input_range", "image_size"),
                   "code": code_digest("steps/check.py", "ncsdk/metrics.py",
                                       "references/tensorflow.py",
                                       "emulator", "ncsformat"),
                   "tools": tool_versions(*TF_TOOLS)})


def profile_key(job):
    """The profile depends on the graph file and the emulator's cost model."""
    return digest({"step": "profile", "compile": compile_key(job),
                   "code": code_digest("steps/profile.py", "ncsdk/profile.py",
                                       "ncsdk/profile_report.py", "emulator",
                                       "ncsformat"),
                   "tools": tool_versions("numpy")})


KEYS = {"fetch": fetch_key, "export": export_key, "freeze": freeze_key,
        "compile": compile_key, "check": check_key, "profile": profile_key}
