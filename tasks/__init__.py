"""The Luigi tasks: `luigi --module tasks CompileModel --name mobilenet_v1_0.5_160`.

Run from the `luigi` command with no scheduler flag, the tasks use Luigi's
local scheduler; `--scheduler-host`/`--scheduler-port`/`--scheduler-url`
reach a `luigid` instead. (Setting `local_scheduler = true` in luigi.cfg
would make Luigi ignore those flags, hence this switch.)
"""
import os
import sys

import luigi

_SCHEDULER_FLAGS = ("--scheduler-host", "--scheduler-port", "--scheduler-url",
                    "--local-scheduler", "--core-scheduler-host",
                    "--core-scheduler-port", "--core-scheduler-url")


def _default_to_local_scheduler(argv):
    if os.path.basename(argv[0] if argv else "") != "luigi":
        return
    if any(a.split("=", 1)[0] in _SCHEDULER_FLAGS for a in argv[1:]):
        return
    config = luigi.configuration.get_config()
    if not config.has_section("core"):
        config.add_section("core")
    config.set("core", "local_scheduler", "true")


_default_to_local_scheduler(sys.argv)

from tasks.fetch import FetchCheckpoint  # noqa: E402
from tasks.export import ExportInferenceGraph  # noqa: E402
from tasks.freeze import FreezeGraph  # noqa: E402
from tasks.compile import CompileModel  # noqa: E402
from tasks.check import CheckModel  # noqa: E402
from tasks.profile import ProfileModel  # noqa: E402
from tasks.zoo import BuildZoo  # noqa: E402
from tasks.release import Release  # noqa: E402

__all__ = ["FetchCheckpoint", "ExportInferenceGraph", "FreezeGraph",
           "CompileModel", "CheckModel", "ProfileModel", "BuildZoo", "Release"]
