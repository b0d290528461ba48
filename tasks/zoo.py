"""BuildZoo: every catalogue net (or a --names list), built and checked."""
import luigi

from tasks.check import CheckModel
from zoo.catalogue import load_catalogue
from zoo.settings import load_settings


class BuildZoo(luigi.WrapperTask):
    names = luigi.ListParameter(
        default=[], description='JSON list of catalogue names; empty = all, '
                                'e.g. --names \'["mobilenet_v1_0.5_160"]\'')
    source = luigi.Parameter(default=load_settings().source)
    shaves = luigi.IntParameter(default=load_settings().shaves)

    def requires(self):
        names = list(self.names) or list(load_catalogue())
        return [CheckModel(name=n, source=self.source, shaves=self.shaves)
                for n in names]
