"""What every per-net task shares: parameters, the job, completeness by stamp."""
import logging
import time

import luigi

from steps.artifacts import stamp_is_current
from steps.plan import KEYS, make_job
from zoo.settings import load_settings

# a child of the logger Luigi sets up, so the lines show beside its own
log = logging.getLogger("luigi-interface.zoo-to-stick")


class NetTask(luigi.Task):
    """A step for one catalogue net. Complete when its stamp matches its key
    and everything it builds on is complete too (so deleting an upstream
    artifact rebuilds what depends on it)."""
    step = None
    name = luigi.Parameter(description="catalogue name, e.g. mobilenet_v1_0.5_160")
    source = luigi.Parameter(
        default=load_settings().source,
        description="official | synthetic | http(s) mirror URL | local directory")

    @property
    def job(self):
        return make_job(self.name, self.source, getattr(self, "shaves", None))

    def complete(self):
        job = self.job
        if not stamp_is_current(job.paths.dir, self.step, KEYS[self.step](job)):
            return False
        return all(t.complete() for t in luigi.task.flatten(self.requires()))

    def output(self):
        from steps.artifacts import stamp_path
        return luigi.LocalTarget(str(stamp_path(self.job.paths.dir, self.step)))

    def run(self):
        start = time.monotonic()
        self.work(self.job)
        log.info("%s %s done in %.1f s", self.step, self.name,
                 time.monotonic() - start)

    def work(self, job):
        raise NotImplementedError


class ShavesMixin:
    shaves = luigi.IntParameter(default=load_settings().shaves,
                                description="SHAVEs to compile for (1..12)")
