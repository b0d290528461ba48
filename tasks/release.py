"""Release: `luigi --module tasks Release --version V [--names '[...]'] [--allow-synthetic]`.

Builds and checks the nets, then writes `artifacts/releases/V/` with
`steps.release.build_release`. A release refused for synthetic weights
fails before anything is built.
"""
import luigi

from tasks.check import CheckModel
from zoo.catalogue import load_catalogue
from zoo.settings import load_settings


class Release(luigi.Task):
    version = luigi.Parameter(description="release version, e.g. 2024.05.1")
    names = luigi.ListParameter(
        default=[], description="JSON list of catalogue names; empty = all")
    source = luigi.Parameter(default=load_settings().source)
    shaves = luigi.IntParameter(default=load_settings().shaves)
    allow_synthetic = luigi.BoolParameter(
        default=False, description="release nets built from synthetic weights "
                                   "(the provenance says so)")

    @property
    def net_names(self):
        return sorted(set(self.names) or set(load_catalogue()))

    def _refusal(self):
        from steps.release import refusal
        return refusal(self.source, self.allow_synthetic)

    def requires(self):
        if self._refusal():
            return []      # run() refuses at once; build nothing for it
        return [CheckModel(name=n, source=self.source, shaves=self.shaves)
                for n in self.net_names]

    def _dest(self):
        from steps.release import release_dir
        return release_dir(load_settings().artifact_root, self.version)

    def output(self):
        from steps.release import SUMS
        return luigi.LocalTarget(str(self._dest() / SUMS))

    def complete(self):
        from steps.release import release_matches
        return release_matches(self._dest(), self.net_names, self.source,
                               self.shaves, self.allow_synthetic)

    def run(self):
        from steps.release import ReleaseError, build_release
        why = self._refusal()
        if why:
            raise ReleaseError(why)
        build_release(self.version, self.net_names, self.source, self.shaves,
                      self.allow_synthetic)
