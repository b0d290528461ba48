"""Hostile Caffe files, from a fixed seed: the Caffe frontend compiles them or
refuses them with one `[Error N] Toolkit Error: ...` (CompileError), never
another exception or a hang; what it compiles, the emulated stick accepts.

One small valid model (conv + BatchNorm + Scale + ReLU, pooling, concat,
eltwise, InnerProduct, softmax) with random weights is mutated: prototxt
bit flips, truncations and token edits (absurd numbers, deleted, duplicated
and retyped lines, broken bottoms), and caffemodel bit flips, truncations and
blobs of the wrong size or shape.
"""
import random
import re
from collections import Counter

import numpy as np

import compiler
from caffe_helpers import caffemodel
from compiler.frontends import caffe_proto
from emulator import mvncapi as mvnc
from test_fuzz import ERROR_LINE, _bitflip, _truncate, time_limit

SEED = 20261129

PROTOTXT = """name: "fuzz"
input: "data"
input_shape { dim: 1 dim: 3 dim: 12 dim: 12 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 8 kernel_size: 3 stride: 1 pad: 1 } }
layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" }
layer { name: "sc1" type: "Scale" bottom: "conv1" top: "conv1"
  scale_param { bias_term: true } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "a" type: "Convolution" bottom: "pool1" top: "a"
  convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "b" type: "Convolution" bottom: "pool1" top: "b"
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "cat" }
layer { name: "sum" type: "Eltwise" bottom: "cat" bottom: "pool1" top: "sum"
  eltwise_param { operation: SUM } }
layer { name: "fc" type: "InnerProduct" bottom: "sum" top: "fc"
  inner_product_param { num_output: 10 } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""


def _weights(rng):
    r = lambda *s: rng.standard_normal(s).astype(np.float32) * 0.3  # noqa: E731
    return caffemodel({
        "conv1": [r(8, 3, 3, 3), r(8)],
        "bn1": [r(8), np.abs(r(8)) + 1, np.ones(1, np.float32)],
        "sc1": [np.abs(r(8)) + 0.5, r(8)],
        "a": [r(4, 8, 1, 1), r(4)],
        "b": [r(4, 8, 3, 3), r(4)],
        "fc": [r(10, 8 * 6 * 6), r(10)],
    })


ABSURD = ["0", "-1", "2147483648", "99999999999", "1e12", "nan", "3.5", "-7"]


def _token_edit(text, rng):
    lines = text.splitlines()
    kind = rng.randrange(5)
    i = rng.randrange(len(lines))
    if kind == 0:   # an absurd number
        nums = list(re.finditer(r"\b\d+\b", text))
        m = rng.choice(nums)
        return text[:m.start()] + rng.choice(ABSURD) + text[m.end():]
    if kind == 1:
        del lines[i]
    elif kind == 2:
        lines.insert(i, lines[rng.randrange(len(lines))])
    elif kind == 3:   # another or an unknown layer type
        lines[i] = re.sub(r'type: "\w+"', 'type: "%s"' % rng.choice(
            ["Convolution", "Pooling", "Deconvolution", "LRN", "Crop",
             "Slice", "Python", "Input", "Reshape", "Flatten"]), lines[i])
    else:             # a bottom that names something else
        lines[i] = re.sub(r'bottom: "\w+"', 'bottom: "%s"' % rng.choice(
            ["data", "nowhere", "prob", "conv1", "sum"]), lines[i])
    return "\n".join(lines) + "\n"


def _blob_edit(model_bytes, rng):
    m = caffe_proto.NetParameter()
    m.ParseFromString(model_bytes)
    layer = rng.choice(list(m.layer))
    blob = rng.choice(list(layer.blobs))
    kind = rng.randrange(4)
    if kind == 0 and len(blob.data):
        del blob.data[rng.randrange(len(blob.data)):]
    elif kind == 1:
        blob.shape.dim[rng.randrange(len(blob.shape.dim))] = rng.choice(
            [0, 1, 3, 1 << 20, 1 << 40])
    elif kind == 2:
        blob.data.extend([1.0] * rng.randint(1, 50))
    else:
        blob.data[:] = [float(rng.choice([1e30, -1e30, 7e4]))] * len(blob.data)
    return m.SerializeToString()


def cases():
    rng = random.Random(SEED)
    good_model = _weights(np.random.default_rng(SEED))
    text = PROTOTXT.encode()
    out = [("prototxt_bitflip", _bitflip(text, rng), good_model) for _ in range(250)]
    out += [("prototxt_truncate", _truncate(text, rng), good_model) for _ in range(150)]
    out += [("prototxt_edit", _token_edit(PROTOTXT, rng).encode(), good_model)
            for _ in range(300)]
    out += [("caffemodel_bitflip", text, _bitflip(good_model, rng)) for _ in range(150)]
    out += [("caffemodel_truncate", text, _truncate(good_model, rng)) for _ in range(75)]
    out += [("caffemodel_blobs", text, _blob_edit(good_model, rng)) for _ in range(75)]
    return out


def test_valid_model_compiles_and_runs(tmp_path):
    (tmp_path / "n.prototxt").write_text(PROTOTXT)
    (tmp_path / "n.caffemodel").write_bytes(_weights(np.random.default_rng(SEED)))
    result = compiler.compile_file(str(tmp_path / "n.prototxt"),
                                   str(tmp_path / "n.caffemodel"))
    assert result.stage_count >= 7


def test_caffe_frontend_refuses_hostile_files(tmp_path):
    report, unexpected = {}, []
    dev = mvnc.Device(mvnc.EnumerateDevices()[0])
    dev.OpenDevice()
    try:
        for i, (category, proto, model) in enumerate(cases()):
            p, w = tmp_path / f"c{i}.prototxt", tmp_path / f"c{i}.caffemodel"
            p.write_bytes(proto)
            w.write_bytes(model)
            try:
                with time_limit():
                    result = compiler.compile_file(str(p), str(w), shaves=1)
                    dev.AllocateGraph(result.blob).DeallocateGraph()
                outcome = "compiled"
            except compiler.CompileError as exc:
                assert ERROR_LINE.match(str(exc)) and "\n" not in str(exc)
                outcome = f"Error {exc.number}"
            except Exception as exc:   # noqa: BLE001 - what the test looks for
                outcome = f"UNEXPECTED {type(exc).__name__}"
                unexpected.append((i, category, repr(exc)[:200]))
            report.setdefault(category, Counter())[outcome] += 1
    finally:
        dev.CloseDevice()
    print("\nCaffe fuzz cases by category:")
    for category, counts in report.items():
        print(f"  {category:22s} {sum(counts.values()):4d}  {dict(counts)}")
    assert sum(sum(c.values()) for c in report.values()) >= 1000
    assert unexpected == [], unexpected[:20]
