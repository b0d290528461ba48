"""Inception v1 through the whole chain: a V1 single-file checkpoint tarball,
export, freeze, compile (concat by layout, max pools), check on the stick."""
import json
import tarfile

import luigi
import pytest

import tasks

pytestmark = pytest.mark.slow


def test_inception_v1_builds_and_passes_the_check(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_TO_STICK_ARTIFACTS", str(tmp_path))
    assert luigi.build([tasks.CheckModel(name="inception_v1", source="synthetic")],
                       local_scheduler=True, log_level="WARNING")
    d = tmp_path / "inception_v1"
    with tarfile.open(d / "download" / "inception_v1_2016_08_28.tar.gz") as tar:
        assert tar.getnames() == ["inception_v1.ckpt"]   # the 2016 layout
    check = json.loads((d / "check" / "check.json").read_text())
    assert check["passed"] and check["top1_identical"], check["text"]
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["synthetic"] is True
    # concatenation by layout: no copy stages, and far below the 100 MiB limit
    assert manifest["graph"]["scratch_bytes"] < 20 * 2**20
    # one stage per conv, pool and softmax of the frozen graph; nothing for
    # ConcatV2, batch norm, bias, relu, squeeze or reshape
    from tfcompat import tf1
    from emulator.reader import load_graph
    gd = tf1.GraphDef()
    gd.ParseFromString((d / "inception_v1_frozen.pb").read_bytes())
    staged = [n for n in gd.node if n.op in ("Conv2D", "MaxPool", "AvgPool", "Softmax")]
    assert len(staged) == 58 + 13 + 1 + 1
    stages = load_graph((d / "inception_v1.graph").read_bytes()).stages
    assert len(stages) == len(staged)
