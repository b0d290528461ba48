"""Freeze with both checkpoint layouts, and clear errors for a checkpoint that does not fit."""
import dataclasses

import numpy as np
import pytest

from steps.export import export_inference_graph
from steps.freeze import FreezeError, freeze_graph
from steps.synthetic import save_synthetic_checkpoint
from zoo.catalogue import get_entry

NAME = "mobilenet_v1_0.25_128"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("freeze")
    entry = get_entry(NAME)
    export_inference_graph(entry, d / "inference.pb")
    return d, entry


def _frozen_output(pb, entry, x):
    from references.tensorflow import run_frozen
    return run_frozen(pb, entry.input_node, entry.output_node, x)


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_both_checkpoint_layouts_freeze_to_the_same_graph_values(exported, layout):
    d, entry = exported
    if layout == "v1":   # the 2016 Inception tarballs: one file named .ckpt
        entry = dataclasses.replace(entry, checkpoint_format="v1",
                                    checkpoint_files=(entry.checkpoint,))
    ckpt = d / layout
    ckpt.mkdir()
    files = save_synthetic_checkpoint(entry, ckpt, seed=3)
    assert sorted(files) == sorted(entry.checkpoint_files)
    if layout == "v1":
        assert [p.name for p in ckpt.iterdir()] == [entry.checkpoint]
    out = d / f"frozen_{layout}.pb"
    freeze_graph(d / "inference.pb", ckpt / entry.checkpoint, entry.output_node,
                 out, entry.checkpoint_format)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
    y = _frozen_output(out, entry, x)
    assert y.shape == (1, 1001) and abs(float(y.sum()) - 1.0) < 1e-4
    (d / f"y_{layout}.npy").write_bytes(y.tobytes())
    other = d / f"y_{'v2' if layout == 'v1' else 'v1'}.npy"
    if other.exists():   # same seed, same weights, whichever layout
        assert np.array_equal(np.frombuffer(other.read_bytes(), np.float32), y.ravel())


def _save_checkpoint(prefix, tensors):
    """A V2 checkpoint holding exactly `tensors` (name -> array)."""
    from tfcompat import tf, tf1
    with tf.Graph().as_default():
        variables = [tf1.Variable(v, name=n) for n, v in tensors.items()]
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            tf1.train.Saver(variables).save(sess, str(prefix), write_meta_graph=False)


def _reference_tensors(entry, seed=0):
    import json
    from conftest import DATA
    from steps.synthetic import variable_value
    ref = json.loads((DATA / "zoo-reference" / f"{entry.name}.json").read_text())
    return {n: variable_value(n, s, seed).astype(np.float32) for n, s in ref["variables"]}


def test_missing_variable_is_named(exported):
    d, entry = exported
    tensors = _reference_tensors(entry)
    del tensors["MobilenetV1/Conv2d_3_pointwise/BatchNorm/moving_mean"]
    _save_checkpoint(d / "lacking" / "ckpt", tensors)
    out = d / "lacking.pb"
    with pytest.raises(FreezeError, match="lacks variable "
                       "'MobilenetV1/Conv2d_3_pointwise/BatchNorm/moving_mean'"):
        freeze_graph(d / "inference.pb", d / "lacking" / "ckpt",
                     entry.output_node, out)
    assert not out.exists()


def test_wrong_shape_is_named(exported):
    d, entry = exported
    tensors = _reference_tensors(entry)
    tensors["MobilenetV1/Conv2d_0/weights"] = np.zeros((3, 3, 3, 9), np.float32)
    _save_checkpoint(d / "shape" / "ckpt", tensors)
    with pytest.raises(FreezeError) as err:
        freeze_graph(d / "inference.pb", d / "shape" / "ckpt",
                     entry.output_node, d / "shape.pb")
    assert "'MobilenetV1/Conv2d_0/weights'" in str(err.value)
    assert "[3, 3, 3, 9]" in str(err.value) and "[3, 3, 3, 8]" in str(err.value)


def test_unknown_output_node_is_named(exported):
    d, entry = exported
    with pytest.raises(FreezeError, match="'Nope/Softmax'"):
        freeze_graph(d / "inference.pb", d / "v2" / entry.checkpoint,
                     "Nope/Softmax", d / "x.pb")


def test_unreadable_checkpoint_is_a_clear_error(exported, tmp_path):
    d, entry = exported
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(FreezeError, match="cannot read checkpoint"):
        freeze_graph(d / "inference.pb", tmp_path / "junk.ckpt",
                     entry.output_node, tmp_path / "x.pb")
