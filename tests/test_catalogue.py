"""The catalogue: all 21 nets, facts equal to the zoo reference, errors that name entry and field."""
import json

import pytest
import yaml

from zoo.catalogue import CatalogueError, load_catalogue, parse_catalogue
from zoo.settings import load_settings

from conftest import DATA, REPO

REFERENCE = sorted((DATA / "zoo-reference").glob("*.json"))


def test_catalogue_lists_all_21_reference_nets():
    names = set(load_catalogue(REPO / "zoo" / "catalogue.yaml"))
    assert names == {p.stem for p in REFERENCE}
    assert len(names) == 21


@pytest.mark.parametrize("ref", REFERENCE, ids=lambda p: p.stem)
def test_entry_matches_reference(ref):
    facts = json.loads(ref.read_text())
    entry = load_catalogue(REPO / "zoo" / "catalogue.yaml")[facts["name"]]
    assert entry.model_name == facts["model_name"]
    assert entry.image_size == facts["image_size"]
    assert entry.num_classes == 1001
    assert entry.input_node == facts["input_node"]
    assert entry.output_node == facts["output_node"]
    assert entry.input_range == (-1.0, 1.0)
    assert entry.url.startswith("http://download.tensorflow.org/models/")
    assert entry.url.endswith("/" + entry.tarball)
    if facts["name"].startswith("mobilenet"):
        # the 2017 release spells 0.5 as 0.50
        spelled = facts["name"].replace("_0.5_", "_0.50_")
        assert entry.tarball == f"{spelled}_2017_06_14.tar.gz"
        assert entry.checkpoint_format == "v2"
        assert entry.checkpoint_files == tuple(
            f"{spelled}.ckpt{s}" for s in
            (".data-00000-of-00001", ".index", ".meta"))
    else:
        assert entry.checkpoint_format == "v1"
        assert entry.checkpoint_files == (entry.checkpoint,)


def test_inception_resnet_checkpoint_has_its_dated_name():
    entry = load_catalogue(REPO / "zoo" / "catalogue.yaml")["inception_resnet_v2"]
    assert entry.checkpoint == "inception_resnet_v2_2016_08_30.ckpt"


def _broken(edit):
    raw = yaml.safe_load((REPO / "zoo" / "catalogue.yaml").read_text())
    edit(raw["nets"]["mobilenet_v1_0.25_128"])
    return yaml.safe_dump(raw)


@pytest.mark.parametrize("field,edit", [
    ("image_size", lambda e: e.update(image_size="big")),
    ("num_classes", lambda e: e.update(num_classes=1000)),
    ("model_name", lambda e: e.update(model_name="resnet_v1_50")),
    ("url", lambda e: e.update(url="ftp://x/y.tar.gz")),
    ("tarball", lambda e: e.update(tarball="other.tar.gz")),
    ("sha256", lambda e: e.update(sha256="abc")),
    ("input_range", lambda e: e.update(input_range=[1, -1])),
    ("checkpoint_format", lambda e: e.update(checkpoint_format="v3")),
    ("checkpoint_files", lambda e: e.update(checkpoint_files=["../evil"])),
    ("output_node", lambda e: e.pop("output_node")),
    ("colour", lambda e: e.update(colour="red")),
])
def test_errors_name_entry_and_field(field, edit):
    with pytest.raises(CatalogueError) as err:
        parse_catalogue(_broken(edit))
    assert "'mobilenet_v1_0.25_128'" in str(err.value)
    assert f"'{field}'" in str(err.value)


def test_not_yaml_is_a_clear_error():
    with pytest.raises(CatalogueError, match="not valid YAML"):
        parse_catalogue("nets: [unclosed")


def test_settings_defaults(monkeypatch):
    monkeypatch.delenv("ZOO_TO_STICK_ARTIFACTS", raising=False)
    monkeypatch.delenv("ZOO_TO_STICK_CATALOGUE", raising=False)
    s = load_settings()
    assert s.shaves == 12
    assert s.source == "official"
    assert s.artifact_root == REPO / "artifacts"
    assert s.catalogue == REPO / "zoo" / "catalogue.yaml"


def test_settings_env_overrides(artifact_root):
    assert load_settings().artifact_root == artifact_root
