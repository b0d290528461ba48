"""Errors a user can cause, at the command lines: NCSDK's number and text
as the last line on stderr, exit status 2, no traceback, nothing written.

tests/test_compiler_errors.py covers compile_file and mvNCCompile for .pb
files (8, 13, 22, 27, 30 and 4 at the CLI); here: the .meta frontend, the
other numbers at mvNCCompile, and mvNCCheck.
"""
import numpy as np
import pytest

import compiler.writer
import ncsformat as nf
from cli_helpers import frozen_pb, last_line, run_script, save_mnist
from ncsdk.compile import main as compile_main
from ncsdk.check import main as check_main

import tfcompat  # noqa: F401


def _tf1():
    from tfcompat import tf1
    return tf1


def _plain(shape=(1, 8, 8, 3)):
    def build():
        tf1 = _tf1()
        x = tf1.placeholder(tf1.float32, list(shape), name="input")
        tf1.nn.softmax(tf1.nn.conv2d(x, np.ones((3, 3, 3, 2), np.float32),
                                     [1, 1, 1, 1], "SAME"), name="out")
    return build


def _dilated():
    tf1 = _tf1()
    x = tf1.placeholder(tf1.float32, [1, 8, 8, 3], name="input")
    tf1.nn.conv2d(x, np.ones((3, 3, 3, 2), np.float32), [1, 1, 1, 1],
                  "SAME", dilations=[1, 2, 2, 1], name="out")


def _grouped():
    """Conv2D whose filter reads 2 of the 4 input channels: two groups."""
    tf1 = _tf1()
    x = tf1.placeholder(tf1.float32, [1, 8, 8, 4], name="input")
    tf1.nn.conv2d(x, np.ones((3, 3, 2, 4), np.float32), [1, 1, 1, 1],
                  "SAME", name="out")


def _is_training():
    """Batch norm switched by an is_training placeholder (the guide's
    warning: freeze it to False for inference)."""
    from tfcompat import slim
    tf1 = _tf1()
    x = tf1.placeholder(tf1.float32, [1, 8, 8, 3], name="input")
    training = tf1.placeholder(tf1.bool, [], name="is_training")
    y = slim.batch_norm(x, is_training=training)
    tf1.identity(y, name="out")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("err")
    save_mnist(root / "mnist_inference")
    save_mnist(root / "mnist_train", inference=False)
    alone = root / "alone"
    alone.mkdir()
    (alone / "lonely.meta").write_bytes(
        (root / "mnist_inference.meta").read_bytes())
    (root / "junk.meta").write_bytes(b"\x0a\xff\xff not a meta graph")
    for name, build in (("net", _plain()), ("batch2", _plain((2, 8, 8, 3))),
                        ("dilated", _dilated), ("grouped", _grouped),
                        ("is_training", _is_training)):
        frozen_pb(root / f"{name}.pb", build)
    return root


def _assert_error(status, err, number, fragment, directory, before):
    assert status == 2
    assert "Traceback" not in err
    assert last_line(err).startswith(f"[Error {number}] Toolkit Error: "), err
    assert fragment in last_line(err)
    assert sorted(p.name for p in directory.iterdir()) == before


META = "mnist_inference.meta"
COMPILE_CASES = [
    # .meta frontend
    (["missing.meta"], 8, "missing.meta"),
    (["alone/lonely.meta"], 9, "lonely"),
    ([META, "-w", "nowhere"], 9, "nowhere"),
    ([META, "-on", "nope"], 13, "nope"),
    ([META, "-in", "nope"], 13, "nope"),
    (["junk.meta"], 22, "junk.meta"),
    (["mnist_train.meta", "-in", "input", "-on", "output"], 34, "keep_prob"),
    (["mnist_train.meta", "-on", "output"], 34, "keep_prob"),
    ([META, "-s", "0"], 27, "0"),
    # numbers test_compiler_errors.py checks only below the CLI
    (["dilated.pb"], 5, "dilation"),
    (["grouped.pb"], 5, "weights (3, 3, 2, 4)"),
    (["is_training.pb", "-in", "input", "-on", "out"], 34, "is_training"),
    (["net.pb", "-w", "missing.caffemodel"], 9, "missing.caffemodel"),
    (["net.onnx"], 30, "net.onnx"),
]


@pytest.mark.parametrize("args,number,fragment", COMPILE_CASES,
                         ids=[f"{c[1]}-{c[0][0]}-{i}"
                              for i, c in enumerate(COMPILE_CASES)])
def test_mvNCCompile_errors(files, capsys, monkeypatch, args, number,
                            fragment):
    monkeypatch.chdir(files)
    (files / "net.onnx").write_bytes(b"")
    before = sorted(p.name for p in files.iterdir())
    status = compile_main(args + ["-o", "out.graph"])
    _assert_error(status, capsys.readouterr().err, number, fragment, files,
                  before)


def test_tf_batch_2_compiles_as_batch_1_with_one_warning(files, capsys,
                                                          monkeypatch):
    """NCSDK compiled a TF placeholder of batch N as batch 1 (Caffe keeps
    Error 24: tests/test_caffe_errors.py)."""
    monkeypatch.chdir(files)
    assert compile_main(["batch2.pb", "-o", "batch2.graph"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines()
                if line.startswith("[Warning]")]
    assert len(warnings) == 1 and "batch 2" in warnings[0]
    first = nf.Stage.unpack((files / "batch2.graph").read_bytes(),
                            nf.HEADER_LENGTH)
    assert tuple(first.input_dims) == (8, 8, 3)


def test_mvNCCompile_resources_35(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    monkeypatch.setattr(compiler.writer.nf, "MAX_FILE_SIZE", 1000)
    before = sorted(p.name for p in files.iterdir())
    status = compile_main([META, "-o", "out.graph"])
    _assert_error(status, capsys.readouterr().err, 35,
                  "Not enough resources", files, before)


CHECK_CASES = [
    (["missing.pb"], 8, "missing.pb"),
    (["net.pb", "-s", "13"], 27, "13"),
    (["net.pb", "-on", "nope"], 13, "nope"),
    ([META, "-w", "nowhere"], 9, "nowhere"),
    (["mnist_train.meta", "-in", "input", "-on", "output"], 34, "keep_prob"),
    (["net.onnx"], 30, "net.onnx"),
]


@pytest.mark.parametrize("args,number,fragment", CHECK_CASES)
def test_mvNCCheck_errors(files, capsys, monkeypatch, args, number,
                          fragment):
    monkeypatch.chdir(files)
    (files / "net.onnx").write_bytes(b"")
    before = sorted(p.name for p in files.iterdir())
    status = check_main(args + ["-o", "out.graph"])
    _assert_error(status, capsys.readouterr().err, number, fragment, files,
                  before)


@pytest.mark.parametrize("args,fragment", [
    (["-i", "nope.png"], "cannot read image nope.png"),
    (["-i", "net.pb"], "cannot read image net.pb"),
    (["-cs", "0,0,1"], "-cs 0,0,1"),
    (["-cs", "b,g,r"], "-cs b,g,r"),
    (["-M", "grey"], "-M grey"),
    (["-M", "1,2"], "does not fit 3 channels"),
])
def test_mvNCCheck_bad_input_options(files, capsys, monkeypatch, args,
                                     fragment):
    monkeypatch.chdir(files)
    before = sorted(p.name for p in files.iterdir())
    status = check_main(["net.pb", "-o", "out.graph"] + args)
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert last_line(err).startswith("mvNCCheck: ") and fragment in err
    assert sorted(p.name for p in files.iterdir()) == before


def test_mvNCCheck_console_script(tmp_path):
    """The installed script: exit 2 and the error line, no traceback."""
    run = run_script("mvNCCheck", ["missing.meta"], tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert last_line(run.stderr).startswith("[Error 8] Toolkit Error: ")
    assert list(tmp_path.iterdir()) == []
