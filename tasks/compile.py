"""CompileModel: the frozen graph to `<name>.graph` with our compiler, plus manifest.json."""
from tasks.common import NetTask, ShavesMixin
from tasks.freeze import FreezeGraph


class CompileModel(ShavesMixin, NetTask):
    step = "compile"

    def requires(self):
        return FreezeGraph(name=self.name, source=self.source)

    def work(self, job):
        from steps.compile import compile_step
        compile_step(job)
