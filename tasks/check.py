"""CheckModel: the graph on the emulated stick against TensorFlow (mvNCCheck)."""
from tasks.common import NetTask, ShavesMixin
from tasks.compile import CompileModel


class CheckModel(ShavesMixin, NetTask):
    step = "check"

    def requires(self):
        return CompileModel(name=self.name, source=self.source, shaves=self.shaves)

    def work(self, job):
        from steps.check import check_step
        check_step(job)
