"""FreezeGraph: checkpoint weights frozen into the inference graph."""
from steps.freeze import freeze_step
from tasks.common import NetTask
from tasks.export import ExportInferenceGraph
from tasks.fetch import FetchCheckpoint


class FreezeGraph(NetTask):
    step = "freeze"

    def requires(self):
        return [FetchCheckpoint(name=self.name, source=self.source),
                ExportInferenceGraph(name=self.name, source=self.source)]

    def work(self, job):
        freeze_step(job)
