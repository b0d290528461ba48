"""Every user-caused failure: its NCSDK error number, message, exit status.

For the command line: exit status 2, the message on stderr, no traceback,
and no output file left behind.
"""
import subprocess
import sys

import numpy as np
import pytest

from compiler import compile_file
from ncsdk.compile import main
from compiler.errors import MESSAGES, CompileError
from compiler_helpers import freeze, write

import tfcompat as tfc
tf1 = tfc.tf1
W = np.ones((3, 3, 3, 4), np.float32)


def _pb(body, output="out", shape=(1, 8, 8, 3)):
    def build():
        x = tf1.placeholder(tf1.float32, list(shape), name="input")
        body(x)
    return freeze(build, output)[0]


def _plain(x):
    y = tf1.nn.relu(tf1.nn.conv2d(x, W, [1, 1, 1, 1], "SAME"), name="r")
    tf1.nn.softmax(tf1.nn.conv2d(y, np.ones((1, 1, 4, 2), np.float32),
                                 [1, 1, 1, 1], "SAME"), name="out")


CASES = {
    4: (lambda x: tf1.math.erf(x, name="out"), "Erf (node out)"),
    5: (lambda x: tf1.nn.conv2d(x, W, [1, 1, 1, 1], "SAME",
                                dilations=[1, 2, 2, 1], name="out"),
        "dilation"),
    34: (lambda x: tf1.multiply(
        x, tf1.placeholder(tf1.float32, [], name="keep_prob"), name="out"),
        "keep_prob"),
}


@pytest.mark.parametrize("number", sorted(CASES))
def test_graph_errors(tmp_path, number):
    body, fragment = CASES[number]
    path = write(tmp_path, "net.pb", _pb(body))
    with pytest.raises(CompileError) as e:
        compile_file(path)
    assert e.value.number == number
    assert str(e.value).startswith(f"[Error {number}] Toolkit Error: ")
    assert fragment in str(e.value)


def test_batch_above_1_compiles_as_batch_1_with_a_warning(tmp_path):
    """NCSDK compiled a TF placeholder of batch N as batch 1."""
    one = compile_file(write(tmp_path, "one.pb", _pb(_plain)), name="n")
    two = compile_file(write(tmp_path, "two.pb", _pb(_plain,
                                                     shape=(2, 8, 8, 3))),
                       name="n")
    assert two.blob == one.blob
    assert one.warnings == [] and len(two.warnings) == 1
    assert "batch 2" in two.warnings[0]


def test_a_reshape_to_another_batch_is_error_24(tmp_path):
    body = (lambda x: tf1.reshape(tf1.nn.relu(x), [2, 8, 4, 3], name="out"))
    path = write(tmp_path, "net.pb", _pb(body))
    with pytest.raises(CompileError) as e:
        compile_file(path)
    assert e.value.number == 24


def test_unknown_node_names_are_error_13(tmp_path):
    path = write(tmp_path, "net.pb", _pb(_plain))
    expect = ("[Error 13] Toolkit Error: Provided OutputNode/InputNode name "
              "does not exist or does not match with one contained in model "
              "file Provided: nope")
    for kw in ({"output_node": "nope"}, {"input_node": "nope"}):
        with pytest.raises(CompileError) as e:
            compile_file(path, **kw)
        assert str(e.value) == expect


def test_file_errors(tmp_path):
    cases = [({"network": tmp_path / "missing.pb"}, 8),
             ({"network": write(tmp_path, "n.pb", _pb(_plain)),
               "weights": tmp_path / "missing.caffemodel"}, 9),
             ({"network": write(tmp_path, "bad.pb", b"\xff\xff\xff")}, 22),
             ({"network": write(tmp_path, "n.onnx", b"x")}, 30)]
    for kw, number in cases:
        with pytest.raises(CompileError) as e:
            compile_file(**kw)
        assert e.value.number == number, kw


@pytest.mark.parametrize("shaves", [0, 13, -1])
def test_shaves_is_error_27(tmp_path, shaves):
    with pytest.raises(CompileError) as e:
        compile_file(write(tmp_path, "n.pb", _pb(_plain)), shaves=shaves)
    assert e.value.number == 27


def test_file_size_limit_is_error_35(tmp_path, monkeypatch):
    import compiler.writer
    monkeypatch.setattr(compiler.writer.nf, "MAX_FILE_SIZE", 1000)
    with pytest.raises(CompileError) as e:
        compile_file(write(tmp_path, "n.pb", _pb(_plain)))
    assert str(e.value).startswith("[Error 35] Toolkit Error: Not enough "
                                   "resources on Myriad to process this "
                                   "network")


def test_message_table_is_complete():
    assert {4, 5, 8, 9, 13, 22, 24, 27, 30, 34, 35} <= set(MESSAGES)
    assert str(CompileError(27, "0")) == \
        "[Error 27] Toolkit Error: Invalid number of shaves: 0 (must be 1 to 12)"


# ---------------------------------------------------------------- CLI

@pytest.mark.parametrize("args,number", [
    (["missing.pb"], 8), (["net.pb", "-s", "13"], 27),
    (["net.pb", "-on", "nope"], 13), (["net.pb", "-in", "nope"], 13),
    (["bad.pb"], 22), (["net.txt"], 30), (["sq.pb"], 4)])
def test_cli_errors_exit_2_no_traceback_no_file(tmp_path, capsys, args,
                                                number, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "net.pb", _pb(_plain))
    write(tmp_path, "sq.pb", _pb(CASES[4][0]))
    write(tmp_path, "bad.pb", b"\x0a\xff")
    write(tmp_path, "net.txt", b"")
    status = main(args + ["-o", "out.graph"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"[Error {number}] Toolkit Error: ")
    assert "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "out.graph").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["net.pb", "sq.pb", "bad.pb", "net.txt"])


def test_cli_success_writes_default_graph(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "net.pb", _pb(_plain))
    assert main(["net.pb", "-s", "12"]) == 0
    out = capsys.readouterr().out
    blob = (tmp_path / "graph").read_bytes()
    assert "stages: 3" in out and f"({len(blob)} bytes)" in out
    assert "scratch:" in out
    assert blob == compile_file(tmp_path / "net.pb", shaves=12).blob
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph", "net.pb"]


def test_console_script_help_and_exit_status(tmp_path):
    exe = [sys.executable, "-m", "ncsdk.compile"]
    help_text = subprocess.run(exe + ["--help"], capture_output=True,
                               text=True, check=True).stdout
    for flag in ("-w", "-s", "-in", "-on", "-is", "-o"):
        assert f"{flag} " in help_text
    run = subprocess.run(exe + [str(tmp_path / "missing.pb"), "-o",
                                str(tmp_path / "g")],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.startswith("[Error 8] Toolkit Error:")
    assert not (tmp_path / "g").exists()


def test_cli_unwritable_output_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "net.pb", _pb(_plain))
    assert main(["net.pb", "-o", str(tmp_path / "no" / "dir" / "g")]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "Traceback" not in err
