"""Step keys: each change rebuilds exactly the steps it affects, for that net only."""
import yaml

from steps.plan import KEYS, STEPS, make_job


def keys(name, **kw):
    job = make_job(name, **kw)
    return {s: KEYS[s](job) for s in STEPS}


def test_keys_are_stable():
    assert keys("mobilenet_v1_0.5_160", source="synthetic") == \
        keys("mobilenet_v1_0.5_160", source="synthetic")


def test_shaves_change_compile_and_check_only():
    k12 = keys("mobilenet_v1_0.5_160", source="synthetic", shaves=12)
    k4 = keys("mobilenet_v1_0.5_160", source="synthetic", shaves=4)
    changed = {s for s in STEPS if k12[s] != k4[s]}
    assert changed == {"compile", "check"}


def test_source_change_rebuilds_all_but_export():
    a = keys("mobilenet_v1_0.5_160", source="synthetic")
    b = keys("mobilenet_v1_0.5_160", source="official")
    assert {s for s in STEPS if a[s] != b[s]} == {"fetch", "freeze", "compile", "check"}


def _edit(path, name, **fields):
    raw = yaml.safe_load(path.read_text())
    raw["nets"][name].update(fields)
    path.write_text(yaml.safe_dump(raw))


def test_entry_edit_touches_only_that_net(catalogue_copy):
    before = {n: keys(n) for n in ("mobilenet_v1_0.5_160", "mobilenet_v1_0.25_128")}
    _edit(catalogue_copy, "mobilenet_v1_0.5_160", sha256="a" * 64)
    after = {n: keys(n) for n in before}
    assert after["mobilenet_v1_0.25_128"] == before["mobilenet_v1_0.25_128"]
    changed = {s for s in STEPS
               if after["mobilenet_v1_0.5_160"][s] != before["mobilenet_v1_0.5_160"][s]}
    assert changed == {"fetch", "freeze", "compile", "check"}


def test_output_node_edit_starts_at_freeze(catalogue_copy):
    before = keys("mobilenet_v1_0.5_160")
    _edit(catalogue_copy, "mobilenet_v1_0.5_160",
          output_node="MobilenetV1/Logits/SpatialSqueeze")
    after = keys("mobilenet_v1_0.5_160")
    assert {s for s in STEPS if after[s] != before[s]} == {"freeze", "compile", "check"}
