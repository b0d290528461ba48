"""ExportInferenceGraph: the net's inference graph from our TF-Slim definition."""
from steps.export import export_step
from tasks.common import NetTask


class ExportInferenceGraph(NetTask):
    step = "export"

    def requires(self):
        return []

    def work(self, job):
        export_step(job)
