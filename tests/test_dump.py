"""mvNCDump: the fields it prints are the ones packed here (hand-made files
with ncsformat, NCSDK 1.x's own shapes from docs/ncs-graph-format.md) or
the ones a known Caffe net must have; --diff names what differs."""
import json
import subprocess

import numpy as np
import pytest

import ncsformat as nf
from caffe_helpers import caffemodel
from cli_helpers import BIN
from compiler.api import compile_file
from emulator_helpers import GraphBuilder, T
from ncsdk.dump import main
from ncsformat import Op, PadStyle, Region

PROTOTXT = """name: "tiny"
input: "data"
input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool1" top: "fc"
  inner_product_param { num_output: 5 } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""


def tiny_blobs(shift=0.0):
    """Weights in eighths (exact in fp16); ``shift`` moves one conv tap."""
    rng = np.random.default_rng(1)
    conv = rng.integers(-8, 8, (4, 3, 3, 3)) / 8.0
    conv[1, 2, 0, 1] += shift
    return {"conv1": [conv, np.arange(4) / 8.0],
            "fc": [rng.integers(-8, 8, (5, 64)) / 8.0, np.arange(5) / 8.0]}


def compile_tiny(tmp_path, name, shaves=12, blobs=None, prototxt=PROTOTXT):
    d = tmp_path / name
    d.mkdir()
    (d / "net.prototxt").write_text(prototxt)
    (d / "net.caffemodel").write_bytes(caffemodel(blobs or tiny_blobs()))
    result = compile_file(str(d / "net.prototxt"), str(d / "net.caffemodel"),
                          shaves=shaves)
    path = d / "net.graph"
    path.write_bytes(result.blob)
    return path


def write(tmp_path, name, blob):
    path = tmp_path / name
    path.write_bytes(blob)
    return path


def dump(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def stage_text(out, i):
    """The lines printed for stage i (from its index line to the next)."""
    lines = out.splitlines()
    start = next(k for k, line in enumerate(lines)
                 if line.startswith(f"{i:4d}  "))
    block = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith("      "):
            break
        block.append(line)
    return "\n".join(block)


def blank_names(blob, stages=(), header=False):
    """Zero the name fields (encode_name never writes an empty name)."""
    raw = bytearray(blob)
    if header:
        raw[40:140] = bytes(100)
    for i in stages:
        at = nf.HEADER_LENGTH + i * nf.STAGE_LENGTH
        raw[at:at + 100] = bytes(100)
    return bytes(raw)


def notes_of(out):
    return [line[4:] for line in out.splitlines() if line.startswith("  - ")]


# ---------------------------------------------------------------- one file

def conv_softmax(name="handmade", shaves=5):
    """conv 3x3 /2 SAME 8x6x3 -> 4x3x4, relu6; softmax into the result."""
    b = GraphBuilder(name, shaves=shaves)
    x = b.input(8, 6, 3)
    y = b.buffer(4, 3, 4)
    taps = b.const(np.arange(3 * 3 * 3 * 4) / 8 - 1)
    bias = b.const([0.5, -1.25, 2.0, 0.0])
    b.stage(Op.CONV, x, y, taps=taps, bias=bias, tap_dims=(9, 3, 4),
            radix=(3, 3), stride=(2, 2), pad_style=PadStyle.TF_SAME,
            post_op=Op.RELU_X, post_param=6.0, name="conv")
    b.stage(Op.SOFTMAX, y, b.output(4, 3, 4), name="prob")
    return b.build(), y


def test_header_and_stage_fields(tmp_path, capsys):
    blob, y = conv_softmax()
    code, out, err = dump(capsys, write(tmp_path, "g", blob))
    assert code == 0 and err == ""
    start = 264 + 227 * 2 + (-(264 + 227 * 2)) % 8
    assert f"({len(blob)} bytes; header says {len(blob)})" in out
    assert "name        'handmade'" in out
    assert "stages      2" in out
    assert f"data start  {start}; data section {len(blob) - start} bytes" \
        in out
    assert "shaves      0..4 (5)" in out
    assert "input       8x6x3 = 288 bytes" in out
    assert "output      48 fp16 values (4x3x4, strideX 8" in out
    conv = stage_text(out, 0)
    assert conv.splitlines()[0] == "   0  conv  'conv'"
    assert f"in  8x6x3 /6,48,2 @1:0  ->  out 4x3x4 /8,32,2 @{y.index}:" \
        f"{y.pointer}" in conv
    assert "taps @3:0 (9,3,4)  bias @3:256  params -" in conv  # 216 -> 256
    assert "k 3x3 s 2x2 pad 0,0 TF SAME" in conv
    assert "post relu_x(6)" in conv
    assert "weights 216 B  bias 8 B" in conv
    prob = stage_text(out, 1)
    assert f"@{y.index}:{y.pointer}  ->  out 4x3x4 /8,32,2 @2:0" in prob
    assert "weights 0 B  bias 0 B" in prob
    assert "notes: none" in out
    assert "emulated stick: accepts" in out


def test_weights_flag_prints_first_values(tmp_path, capsys):
    blob, _ = conv_softmax()
    _, out, _ = dump(capsys, write(tmp_path, "g", blob), "--weights")
    assert "bias: [0.5, -1.25, 2, 0]" in out
    assert "taps: [-1, -0.875, -0.75, " in out and "(108 values)]" in out


def test_json_has_the_packed_fields(tmp_path, capsys):
    blob, y = conv_softmax()
    code, out, _ = dump(capsys, write(tmp_path, "g", blob), "--json")
    doc = json.loads(out)
    assert code == 0
    assert doc["header"]["last_shave"] == 4
    assert doc["header"]["stage_count"] == 2
    conv = doc["stages"][0]
    assert conv["op_name"] == "conv" and conv["post_param"] == 6.0
    assert conv["input_dims"] == [8, 6, 3] and conv["stride"] == [2, 2]
    assert conv["output"] == {"index": y.index, "pointer": y.pointer}
    assert conv["blocks"]["taps"]["bytes"] == 216
    assert doc["emulator"]["accepts"] is True and doc["notes"] == []


def test_compiled_caffe_net(tmp_path, capsys):
    path = compile_tiny(tmp_path, "a", shaves=3)
    code, out, _ = dump(capsys, path)
    assert code == 0
    assert "shaves      0..2 (3)" in out
    assert "input       8x8x3 = 384 bytes" in out
    assert "output      5 fp16 values" in out
    conv = stage_text(out, 0)
    assert "'conv1'" in conv and "k 3x3 s 1x1 pad 1,1 Caffe" in conv
    assert "weights 216 B  bias 8 B" in conv       # 3*3*3*4 fp16
    fc = [stage_text(out, i) for i in range(4) if "'fc'" in
          stage_text(out, i)][0]
    assert "weights 640 B  bias 10 B" in fc        # 64*5 fp16
    assert "emulated stick: accepts" in out


def ncsdk_caffe_file():
    """NCSDK 1.x Caffe shapes: storage order 4 everywhere, a leading 'data'
    stage into the result area, opParams on the convolution, a fully
    connected input declared 1x1xN with the producer's strides."""
    b = GraphBuilder("x", shaves=1)
    x = b.input(8, 8, 3)
    y = b.buffer(4, 4, 4)
    zyx = {"storage_order": 4}
    b.stage(Op.NONE, x, T(Region.OUTPUT, 0, x.dims, x.strides), name="data",
            pad_style=PadStyle.CAFFE, **zyx)
    b.stage(Op.CONV, x, y, taps=b.const(np.ones(3 * 3 * 3 * 4)),
            bias=b.const(np.zeros(4)), op_params=b.raw(bytes(16)),
            tap_dims=(9, 3, 4), radix=(3, 3), stride=(2, 2), pad=(1, 1),
            pad_style=PadStyle.CAFFE, post_op=Op.RELU, name="conv1", **zyx)
    flat = T(y.index, y.pointer, (1, 1, 64), (8, 8, 2))
    b.stage(Op.FC, flat, b.output(1, 1, 5), taps=b.const(np.ones(64 * 5)),
            tap_dims=(1, 64, 5), name="fc", **zyx)
    return blank_names(b.build(), header=True)


def test_ncsdk_caffe_shapes_are_noted(tmp_path, capsys):
    code, out, _ = dump(capsys, write(tmp_path, "g", ncsdk_caffe_file()))
    assert code == 0
    notes = notes_of(out)
    assert "name        ''" in out
    assert any(n.startswith("empty network name") for n in notes)
    assert any(n.startswith("storage order 4 (ZYX) on stages 0..2 (3)")
               for n in notes)
    assert any(n.startswith("stage 0 'data': op none copying the input "
                            "into the result area") for n in notes)
    assert any(n.startswith("stage 1 'conv1': opParams at 3:")
               for n in notes)
    assert any(n.startswith("stage 2 'fc': fully connected input declared "
                            "1x1x64 with the producer's strides 8,8,2")
               for n in notes)
    fc = stage_text(out, 2)
    assert "in  1x1x64 /8,8,2 @4:" in fc and "weights 640 B" in fc
    assert "emulated stick: " in out


def ncsdk_tf_file(w=6, h=20):
    """NCSDK 1.x TensorFlow shapes: its name, a copy stage taking channel 1
    of 2, eltwise sums with the input and with a constant, and a last
    sigmoid declared larger than it computes."""
    b = GraphBuilder("TensorFlow Network", shaves=1)
    x = b.input(w, h, 1)
    a, c1, s1, s2 = (b.buffer(w, h, 2), b.buffer(w, h, 1),
                     b.buffer(w, h, 1), b.buffer(w, h, 1))
    b.stage(Op.CONV, x, a, taps=b.const([1.0, -1.0]), tap_dims=(1, 1, 2),
            radix=(1, 1), stride=(1, 1), pad_style=PadStyle.TF_SAME)
    channel_1 = T(a.index, a.pointer + 2, a.dims, a.strides)   # as NCSDK
    b.stage(Op.COPY, channel_1, c1, tap_dims=(0, 2, 1), name="slice")
    b.stage(Op.SUM, c1, s1, taps=x, name="add_input")
    b.stage(Op.SUM, s1, s2, taps=b.const(np.ones(w * h)), name="add_const")
    big = T(Region.OUTPUT, 0, (w, h, w), (2 * w, 2 * w * w, 2))
    b.stage(Op.SIGMOID, s2, big, name="sigmoid")
    return b.build(), a


def test_ncsdk_tf_shapes_are_noted(tmp_path, capsys):
    blob, _ = ncsdk_tf_file()
    code, out, _ = dump(capsys, write(tmp_path, "g", blob))
    assert code == 0
    notes = notes_of(out)
    assert any("'TensorFlow Network' with non-square input 6x20x1" in n
               and "read transposed" in n for n in notes)
    assert "stage 1 'slice': copy (op 19): 1 of 2 channels, starting at " \
        "channel 1 of stage 0's output" in notes
    assert "stage 2 'add_input': sum second operand is the network input " \
        "(index 1)" in notes
    assert "stage 3 'add_const': sum second operand is a constant in the " \
        "data section (index 3)" in notes
    # 6 * 20 * (2*6) / 2 values read back (the API's rule), 120 computed
    assert any(n.startswith("stage 4 'sigmoid': last stage declares output "
                            "6x20x6") and "reads back 720 values, of which "
                            "120 are computed" in n for n in notes)
    assert not any("storage order" in n for n in notes)
    assert "output      720 fp16 values" in out


def test_square_tensorflow_input_is_not_flagged(tmp_path, capsys):
    blob, _ = ncsdk_tf_file(w=6, h=6)
    _, out, _ = dump(capsys, write(tmp_path, "g", blob))
    assert not any("non-square" in n for n in notes_of(out))


def test_refused_file_is_still_shown(tmp_path, capsys):
    b = GraphBuilder("lost")
    x = b.input(4, 4, 2)
    b.stage(Op.RELU, x, b.buffer(4, 4, 2), name="relu")   # never index 2
    code, out, _ = dump(capsys, write(tmp_path, "g", b.build()))
    assert code == 0
    assert "   0  relu  'relu'" in out
    assert "scratch     unknown (the emulated stick refuses the file)" in out
    assert "emulated stick: refuses: " in out
    assert "(index 2)" in out.splitlines()[-1]


def test_data_blocks_past_the_file_are_noted(tmp_path, capsys):
    blob, _ = conv_softmax()
    raw = bytearray(blob[:-64])                     # cut the bias block
    raw[32:36] = len(raw).to_bytes(4, "little")
    _, out, _ = dump(capsys, write(tmp_path, "g", bytes(raw)))
    assert any(n.startswith("stage 0 'conv': bias block bytes 256..264 "
                            "outside the data section of 256 bytes")
               for n in notes_of(out))


def test_reader_warnings_are_printed(tmp_path, capsys, monkeypatch):
    from types import SimpleNamespace

    import emulator.reader
    monkeypatch.setattr(emulator.reader, "load_graph", lambda blob:
                        SimpleNamespace(warnings=["odd but fine"],
                                        scratch_bytes=123))
    blob, _ = conv_softmax()
    _, out, _ = dump(capsys, write(tmp_path, "g", blob))
    assert "scratch     123 bytes" in out
    assert "emulated stick: accepts\n  warning: odd but fine" in out


# ---------------------------------------------------------- unreadable

def header_only(version=2, stages=1, extra=0):
    h = nf.Header(file_size=264 + extra, name="n", stage_count=stages,
                  data_start=nf.data_start(stages), last_shave=0,
                  version=version)
    return h.pack() + bytes(extra)


@pytest.mark.parametrize("blob, says", [
    (b"", "shorter than the 264-byte"),
    (bytes(200), "shorter than the 264-byte"),
    (header_only(version=3, extra=227), "version field 3"),
    (header_only(stages=2, extra=227), "header says 2 stages"),
    (header_only(stages=0, extra=227), "header says 0 stages"),
])
def test_unreadable_files_exit_2_with_one_line(tmp_path, capsys, blob, says):
    code, out, err = dump(capsys, write(tmp_path, "g", blob))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and says in err


def test_missing_file_and_directory(tmp_path, capsys):
    for path in (tmp_path / "nope", tmp_path):
        code, out, err = dump(capsys, path)
        assert code == 2 and out == "" and len(err.splitlines()) == 1


def test_diff_with_unreadable_b(tmp_path, capsys):
    blob, _ = conv_softmax()
    code, out, err = dump(capsys, write(tmp_path, "a", blob), "--diff",
                          write(tmp_path, "b", bytes(10)))
    assert code == 2 and out == "" and "shorter than" in err


def test_corrupted_records_never_crash(tmp_path, capsys):
    blob, _ = conv_softmax()
    rng = np.random.default_rng(0)
    for _ in range(150):
        raw = bytearray(blob)
        for at in rng.integers(0, nf.data_start(2), 6):
            raw[at] = rng.integers(0, 256)
        code, out, err = dump(capsys, write(tmp_path, "g", bytes(raw)))
        assert code in (0, 2)
        assert (code == 0 and out) or len(err.splitlines()) == 1


def test_console_script(tmp_path):
    exe = BIN / "mvNCDump"
    bad = subprocess.run([str(exe), str(write(tmp_path, "g", b"xx"))],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("mvNCDump: ")
    helped = subprocess.run([str(exe), "-h"], capture_output=True,
                            text=True, timeout=120)
    assert helped.returncode == 0 and "--diff B" in helped.stdout


# ---------------------------------------------------------------- --diff

def test_diff_with_itself(tmp_path, capsys):
    a = compile_tiny(tmp_path, "a")
    code, out, _ = dump(capsys, a, "--diff", a)
    assert code == 0
    assert out.splitlines()[-1] == "4 stages, 4 identical, 0 differ"


def test_diff_shaves_only(tmp_path, capsys):
    a = compile_tiny(tmp_path, "a", shaves=12)
    b = compile_tiny(tmp_path, "b", shaves=6)
    code, out, _ = dump(capsys, a, "--diff", b)
    assert code == 1
    assert "header: shaves 12 -> 6" in out.splitlines()
    assert out.splitlines()[-1] == ("4 stages, 4 identical, 0 differ; "
                                    "header differs (shaves)")


def test_diff_changed_weight(tmp_path, capsys):
    a = compile_tiny(tmp_path, "a")
    b = compile_tiny(tmp_path, "b", blobs=tiny_blobs(shift=0.5))
    code, out, _ = dump(capsys, a, "--diff", b)
    lines = out.splitlines()
    assert code == 1
    at = lines.index("stage 0 'conv1':")
    assert lines[at + 1].startswith("    taps: 1 of 108 values differ "
                                    "beyond fp16 rounding; max |diff| 0.5 ")
    assert lines[-1] == "4 stages, 3 identical, 1 differ (taps 1)"


def test_diff_different_op(tmp_path, capsys):
    a = compile_tiny(tmp_path, "a")
    b = compile_tiny(tmp_path, "b",
                     prototxt=PROTOTXT.replace("pool: MAX", "pool: AVE"))
    code, out, _ = dump(capsys, a, "--diff", b)
    assert code == 1
    lines = out.splitlines()
    at = lines.index("stage 1 'pool1':")
    assert lines[at + 1] == "    op max_pool -> avg_pool"
    assert lines[-1] == "4 stages, 3 identical, 1 differ (op 1)"


def one_conv(taps, w=6, h=6, skip_buffer=False):
    b = GraphBuilder("one")
    x = b.input(w, h, 1)
    if skip_buffer:
        b.buffer(3, 3, 3)
    y = b.buffer(w, h, 2)
    b.stage(Op.CONV, x, y, taps=b.const(taps), tap_dims=(1, 1, 2),
            pad_style=PadStyle.TF_SAME, name="conv")
    b.stage(Op.RELU, y, b.output(w, h, 2), name="relu")
    return b.build()


def next_up(v, n):
    """v moved by n fp16 steps (upwards)."""
    bits = np.array([v], np.float16).view(np.uint16) + n
    return float(bits.view(np.float16)[0])


def test_diff_weights_within_fp16_rounding(tmp_path, capsys):
    a = write(tmp_path, "a", one_conv([0.3, 1.5]))
    one_ulp = write(tmp_path, "b", one_conv([next_up(0.3, 1), 1.5]))
    two_ulp = write(tmp_path, "c", one_conv([next_up(0.3, 2), 1.5]))
    code, out, _ = dump(capsys, a, "--diff", one_ulp)
    assert code == 0 and out.splitlines()[-1].endswith("2 identical, "
                                                       "0 differ")
    code, out, _ = dump(capsys, a, "--diff", two_ulp)
    assert code == 1 and "1 of 2 values differ" in out
    assert "; max 2 ULP" in out


def test_diff_transposed_input(tmp_path, capsys):
    a = write(tmp_path, "a", one_conv([1, 2], w=6, h=20))
    b = write(tmp_path, "b", one_conv([1, 2], w=20, h=6))
    code, out, _ = dump(capsys, a, "--diff", b)
    assert code == 1
    assert "    input dims 6x20x1 -> 20x6x1 (W and H swapped)" in out
    assert "header: input dims 6x20x1 -> 20x6x1" in out


def test_diff_layout_only(tmp_path, capsys):
    a = write(tmp_path, "a", one_conv([1, 2]))
    b = write(tmp_path, "b", one_conv([1, 2], skip_buffer=True))
    code, out, _ = dump(capsys, a, "--diff", b)
    assert code == 1
    assert "stage 0 'conv' (layout only):" in out
    assert "stage 1 'relu' (layout only):" in out
    assert out.splitlines()[-1] == "2 stages, 0 identical, 2 differ " \
        "(buffers 2)"


def staged(ncsdk):
    """conv, fc, softmax; NCSDK-like: an input-blob stage first and the fc's
    bias and relu as a separate bias stage."""
    b = GraphBuilder("n")
    x = b.input(4, 4, 2)
    y, f = b.buffer(4, 4, 2), b.buffer(1, 1, 3)
    if ncsdk:
        b.stage(Op.NONE, x, T(Region.OUTPUT, 0, x.dims, x.strides),
                name="data")
    b.stage(Op.CONV, x, y, taps=b.const(np.ones(4)), tap_dims=(1, 2, 2),
            pad_style=PadStyle.TF_SAME, name="conv")
    fc = dict(taps=b.const(np.ones(96)), tap_dims=(1, 32, 3), name="fc")
    bias = b.const([1, 2, 3])
    if ncsdk:
        g = b.buffer(1, 1, 3)
        b.stage(Op.FC, y, f, **fc)
        b.stage(Op.BIAS, f, g, bias=bias, post_op=Op.RELU, name="fc_bias")
        f = g
    else:
        b.stage(Op.FC, y, f, bias=bias, post_op=Op.RELU, **fc)
    b.stage(Op.SOFTMAX, f, b.output(1, 1, 3), name="prob")
    return b.build()


def test_diff_extra_ncsdk_stages(tmp_path, capsys):
    a = write(tmp_path, "a", staged(ncsdk=True))
    b = write(tmp_path, "b", staged(ncsdk=False))
    code, out, _ = dump(capsys, a, "--diff", b)
    assert code == 1
    lines = out.splitlines()
    at = lines.index("stage A0 'data':")
    assert lines[at + 1] == ("    only in A: none 4x4x2 (NCSDK's input-blob "
                             "stage, no effect on the result)")
    at = lines.index("stage A3 'fc_bias':")
    assert lines[at + 1] == ("    only in A: bias 1x1x3 (B's stage 1 "
                             "carries it: bias yes, post-op relu)")
    assert "    post-op none -> relu" in lines
    assert lines[-1].endswith("; 2 only in A, 0 only in B; header differs "
                              "(stages, file size)")


def test_diff_json(tmp_path, capsys):
    a = compile_tiny(tmp_path, "a", shaves=12)
    b = compile_tiny(tmp_path, "b", shaves=6)
    code, out, _ = dump(capsys, a, "--diff", b, "--json")
    doc = json.loads(out)
    assert code == 1 and doc["identical"] is False
    assert doc["header"] == [{"field": "shaves", "a": 12, "b": 6}]
    assert all(s["differences"] == [] for s in doc["stages"])


def test_diff_ncsdk_transposed_tf_net_with_ours(tmp_path, capsys):
    """NCSDK's file for a [1, 6, 10, 2] TF net against ours for the same
    net: the input W and H swapped, NCSDK's separate bias stage folded into
    our fully connected stage, the weights equal."""
    from compiler_helpers import freeze
    from ncsdk_made import tf_transposed_net
    from tfcompat import tf1
    blob, p = tf_transposed_net(h=6, w=10, c=2)

    def build():
        x = tf1.placeholder(tf1.float32, [1, 6, 10, 2], name="input")
        y = tf1.nn.relu(tf1.nn.conv2d(x, p["w1"], [1, 1, 1, 1], "SAME")
                        + p["b1"])
        tf1.add(tf1.matmul(tf1.reshape(y, [1, -1]), p["w2"]), p["b2"],
                name="out")
    pb = write(tmp_path, "net.pb", freeze(build, "out")[0])
    ours = write(tmp_path, "ours", compile_file(str(pb), shaves=12).blob)
    code, out, _ = dump(capsys, write(tmp_path, "ncsdk", blob), "--diff",
                        ours)
    lines = out.splitlines()
    assert code == 1
    assert "    input dims 6x10x2 -> 10x6x2 (W and H swapped)" in lines
    assert "    input dims 1x1x240 -> 10x6x4 (the same 240 values)" in lines
    at = lines.index("stage A2 'dense/BiasAdd':")
    assert lines[at + 1].startswith("    only in A: scale 1x1x2 (B's stage 1 "
                                    "carries it: bias yes")
    assert not any(line.startswith("    taps") for line in lines)
    assert "header: shaves" not in out
