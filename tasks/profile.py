"""ProfileModel: the compiled graph's per-layer profile (mvNCProfile) as HTML, CSV, JSON."""
from tasks.common import NetTask, ShavesMixin
from tasks.compile import CompileModel


class ProfileModel(ShavesMixin, NetTask):
    step = "profile"

    def requires(self):
        return CompileModel(name=self.name, source=self.source, shaves=self.shaves)

    def work(self, job):
        from steps.profile import profile_step
        profile_step(job)
