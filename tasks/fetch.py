"""FetchCheckpoint: the net's checkpoint tarball, downloaded (or built) and extracted."""
import luigi

from steps.fetch import fetch_step
from tasks.common import NetTask


class FetchCheckpoint(NetTask):
    step = "fetch"
    update_lock = luigi.BoolParameter(
        default=False, significant=False,
        description="accept a tarball whose sha256 differs from zoo/checksums.lock")

    def requires(self):
        return []

    def work(self, job):
        fetch_step(job, update_lock=self.update_lock)
