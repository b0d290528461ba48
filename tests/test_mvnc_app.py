"""An NCSDK 1.x app (tests/data/ncsdk_apps/) runs unchanged on the emulated
sticks: a subprocess with the venv's python, a temporary directory as its
working directory (so ``mvnc`` comes from the installed project, not from
the repository directory), three emulated sticks used from three threads.

The graph file is a small TensorFlow network compiled here; the app's
printed outputs are compared with TensorFlow running the frozen graph.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compiler.api import compile_file
from compiler_helpers import freeze, run_frozen

APPS = Path(__file__).resolve().parent / "data" / "ncsdk_apps"
APP = APPS / "classify_threads.py"
REPO = Path(__file__).resolve().parent.parent
SIZE, CLASSES, IMAGES = 16, 10, 7


def build_net():
    """conv 3x3 + bias + relu -> max pool 2x2 -> conv 3x3 -> mean -> softmax."""
    from tfcompat import tf1
    rng = np.random.default_rng(21)
    w1 = rng.normal(0, 0.4, (3, 3, 3, 8)).astype(np.float32)
    b1 = rng.normal(0, 0.1, 8).astype(np.float32)
    w2 = rng.normal(0, 0.4, (3, 3, 8, CLASSES)).astype(np.float32)
    x = tf1.placeholder(tf1.float32, [1, SIZE, SIZE, 3], name="input")
    y = tf1.nn.relu(tf1.nn.bias_add(
        tf1.nn.conv2d(x, w1, [1, 1, 1, 1], "SAME"), b1))
    y = tf1.nn.max_pool2d(y, 2, 2, "VALID")
    y = tf1.nn.conv2d(y, w2, [1, 1, 1, 1], "SAME")
    y = tf1.reduce_mean(y, [1, 2])
    tf1.nn.softmax(y, name="probs")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """(graph file path, images .npy path, TF's outputs per image)."""
    d = tmp_path_factory.mktemp("net")
    pb, _ = freeze(build_net, "probs")
    (d / "net.pb").write_bytes(pb)
    graph = d / "net.graph"
    graph.write_bytes(compile_file(d / "net.pb", shaves=2).blob)
    x = np.random.default_rng(3).uniform(-1, 1, (IMAGES, SIZE, SIZE, 3))
    x = x.astype(np.float16).astype(np.float32)     # what the stick gets
    np.save(d / "images.npy", x)
    want = [run_frozen(pb, {"input:0": im[None]}, "probs:0").reshape(-1)
            for im in x]
    return graph, d / "images.npy", want


def run_app(args, tmp_path, devices, pythonpath=None):
    """The app (or python -c ...) in a clean cwd with the venv's python."""
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MVNC_EMULATED_DEVICES"] = str(devices)
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def parse(stdout):
    """image index -> (device, top1, output values) from the app's lines."""
    got = {}
    for line in stdout.splitlines():
        if line.startswith("image "):
            head, values = line.split(" output ")
            words = head.replace(":", "").split()
            got[int(words[1])] = (words[3], int(words[5]),
                                  np.array(values.split(), np.float32))
    return got


def test_ncsdk_app_runs_unchanged_on_three_emulated_sticks(net, tmp_path):
    graph, images, want = net
    r = run_app([str(APP), str(graph), str(images)], tmp_path, devices=3)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    got = parse(r.stdout)
    assert sorted(got) == list(range(IMAGES))
    names = [f"emulated-ncs-{k}" for k in range(3)]
    for i, (device, top1, out) in got.items():
        assert device == names[i % 3]           # one thread per stick
        assert out.shape == (CLASSES,)
        np.testing.assert_allclose(out, want[i], atol=3e-3)
        assert top1 == int(np.argmax(want[i]))
    assert f"Finished: {IMAGES} images on 3 devices" in r.stdout
    for name in names:       # LOG_LEVEL 2: the emulated stick says what it does
        assert f"{name}: graph " in r.stderr and "allocated" in r.stderr
        assert f"{name}: " in r.stdout and "throttling level 0" in r.stdout


def test_no_devices_found(net, tmp_path):
    graph, images, _ = net
    r = run_app([str(APP), str(graph), str(images)], tmp_path, devices=0)
    assert r.returncode == 0 and r.stdout.strip() == "No devices found"


def test_the_installed_mvnc_is_imported_not_the_repo_directory(tmp_path):
    r = run_app(["-c", "import mvnc, mvnc.mvncapi as fx, os; "
                 "print(os.getcwd()); print(fx.Device.__module__)"],
                tmp_path, devices=1)
    assert r.returncode == 0, r.stderr
    cwd, module = r.stdout.split()
    assert Path(cwd) == tmp_path / "cwd" and REPO not in Path(cwd).parents
    assert module == "emulator.mvncapi"


def test_a_real_ncsdk_first_on_pythonpath_wins(net, tmp_path):
    """A stand-in for NCSDK's own mvnc (no sticks plugged in) on PYTHONPATH:
    the app imports it, not the emulated stick."""
    fake = tmp_path / "ncsdk" / "mvnc"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "mvncapi.py").write_text(
        "from enum import Enum\n"
        "class GlobalOption(Enum):\n    LOG_LEVEL = 0\n"
        "def SetGlobalOption(opt, data):\n    pass\n"
        "def EnumerateDevices():\n    return []\n")
    graph, images, _ = net
    r = run_app([str(APP), str(graph), str(images)], tmp_path, devices=3,
                pythonpath=fake.parent)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "No devices found"
    r = run_app(["-c", "from mvnc import mvncapi; print(mvncapi.__file__)"],
                tmp_path, devices=3, pythonpath=fake.parent)
    assert Path(r.stdout.strip()) == fake / "mvncapi.py"
