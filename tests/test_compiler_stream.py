"""Reading a GraphDef field by field (low memory) gives what one parse gives."""
import io

import pytest

from compiler.errors import CompileError
from compiler.frontends.tf_graphdef import parse_graphdef, read_graphdef


@pytest.fixture(scope="module")
def pb_bytes():
    from tfcompat import tf, tf1
    with tf.Graph().as_default() as g:
        x = tf1.placeholder(tf.float32, [1, 8, 8, 3], name="input")
        w = tf1.constant([[[[0.5] * 4] * 3] * 3] * 3, name="w")
        y = tf1.nn.relu(tf1.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"), name="out")
    return g.as_graph_def().SerializeToString(deterministic=True)


def _read(tmp_path, data):
    p = tmp_path / "g.pb"
    p.write_bytes(data)
    with open(p, "rb") as f:
        return read_graphdef(f)


def test_streamed_equals_whole(tmp_path, pb_bytes):
    streamed = _read(tmp_path, pb_bytes)
    whole = parse_graphdef(pb_bytes)
    assert streamed == whole
    assert [n.name for n in streamed.node] == ["input", "w", "Conv2D", "out"]
    assert streamed.versions.producer == whole.versions.producer > 0


@pytest.mark.parametrize("cut", [1, 2, 7, -1, -3, -40])
def test_truncated_file_is_error_22(tmp_path, pb_bytes, cut):
    with pytest.raises(CompileError) as err:
        _read(tmp_path, pb_bytes[:cut])
    assert err.value.number == 22


@pytest.mark.parametrize("data", [b"\x08\x01", b"\x0a\xff\xff\xff\xff\x0f",
                                  b"\x0a\x80", b"hello world", b""])
def test_not_a_graphdef_is_error_22(tmp_path, data):
    with pytest.raises(CompileError) as err:
        _read(tmp_path, data)
    assert err.value.number == 22
