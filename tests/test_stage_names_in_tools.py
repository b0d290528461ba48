"""NCSDK's stage names reach the user: mvNCProfile's table and HTML report
name a Conv2D + BiasAdd + Relu stage after its Relu (`conv1/Relu`), as
NCSDK's profiles did, and mvNCCheck names the output stage."""
import numpy as np

from cli_helpers import frozen_pb, tf1
from ncsdk.check import main as check_main
from ncsdk.profile import main as profile_main


def _net():
    v1 = tf1()
    rng = np.random.default_rng(3)

    def build():
        x = v1.placeholder(v1.float32, [1, 8, 8, 3], name="input")
        with v1.name_scope("conv1"):
            w = rng.uniform(-0.5, 0.5, (3, 3, 3, 4)).astype(np.float32)
            y = v1.nn.conv2d(x, w, [1, 1, 1, 1], "SAME", name="Conv2D")
            y = v1.nn.bias_add(y, np.full(4, 0.1, np.float32),
                               name="BiasAdd")
            y = v1.nn.relu(y, name="Relu")
        y = v1.nn.max_pool(y, [1, 2, 2, 1], [1, 2, 2, 1], "VALID",
                           name="pool1/MaxPool")
        v1.nn.softmax(v1.reshape(y, [1, 64]), name="out")
    return build


def test_profile_and_check_show_ncsdk_names(tmp_path, capsys):
    pb = frozen_pb(tmp_path / "net.pb", _net())
    assert profile_main([str(pb), "-s", "12", "-o", str(tmp_path / "g"),
                         "-of", str(tmp_path / "rep")]) == 0
    table = capsys.readouterr().out
    rows = [line.split()[1] for line in table.splitlines()
            if line[:1].isdigit()]
    assert rows[:2] == ["conv1/Relu", "pool1/MaxPool"]
    assert "conv1/Conv2D" not in table
    assert "conv1/Relu" in (tmp_path / "rep.html").read_text()
    assert check_main([str(pb), "-s", "12", "--save",
                       str(tmp_path / "o")]) == 0
    assert "-> out)" in capsys.readouterr().out
