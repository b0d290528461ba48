"""NCSDK's input restrictions and unsupported Caffe layers: clear errors
with NCSDK's numbers, exit status 2 from the command line."""
import pytest

from caffe_helpers import compile_caffe, net
from compiler import CompileError
from ncsdk.compile import main

RELU = 'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n'
CONV = ('layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
        'convolution_param { num_output: 2 kernel_size: 3 } }\n')


def error_of(tmp_path, text):
    with pytest.raises(CompileError) as info:
        compile_caffe(tmp_path, text)
    return info.value


def test_batch_size_must_be_one(tmp_path):
    text = ('input: "data" input_shape { dim: 2 dim: 3 dim: 8 dim: 8 }\n'
            + RELU)
    assert error_of(tmp_path, text).number == 24


@pytest.mark.parametrize("header", [
    'input: "data" input: "extra" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 '
    '} input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n',
    'input: "data"\n',
    'input: "data" input_dim: 1 input_dim: 3 input_dim: 8\n',
    RELU.replace("ReLU", "Input").replace(' bottom: "data"', ''),
])
def test_input_forms_refused_say_which_form_to_use(tmp_path, header):
    err = error_of(tmp_path, header + RELU)
    assert err.number == 5
    assert 'input: "data" input_shape' in str(err)


def test_legacy_input_dim_form_accepted(tmp_path):
    text = ('input: "data" input_dim: 1 input_dim: 3 input_dim: 8 '
            'input_dim: 6\n' + RELU)
    result = compile_caffe(tmp_path, text)
    assert result.stages[0].input_dims == (6, 8, 3)


def test_crop_with_reference_from_data_refused(tmp_path):
    text = net((8, 8, 3), 'layer { name: "p" type: "Pooling" bottom: "data" '
               'top: "p" pooling_param { pool: MAX kernel_size: 2 stride: 2 '
               '} }\nlayer { name: "c" type: "Crop" bottom: "p" bottom: '
               '"data" top: "c" }\n')
    err = error_of(tmp_path, text)
    assert err.number == 5 and "Crop" in str(err)


def test_unsupported_layer_type(tmp_path):
    text = net((4, 4, 1), 'layer { name: "pw" type: "Power" bottom: "data" '
               'top: "pw" }\n')
    assert error_of(tmp_path, text).number == 4


def test_flatten_read_by_softmax_refused(tmp_path):
    text = net((4, 4, 3), 'layer { name: "f" type: "Flatten" bottom: "data" '
               'top: "f" }\nlayer { name: "s" type: "Softmax" bottom: "f" '
               'top: "s" }\n')
    assert error_of(tmp_path, text).number == 5


def test_too_many_groups_refused(tmp_path):
    text = net((1, 1, 2048), 'layer { name: "c" type: "Convolution" bottom: '
               '"data" top: "c" convolution_param { num_output: 2048 '
               'kernel_size: 1 group: 1024 } }\n')
    assert error_of(tmp_path, text).number == 5


def test_cli_reports_unparsable_prototxt(tmp_path, capsys):
    bad = tmp_path / "bad.prototxt"
    bad.write_text("layer { name: \"x\" type: \n")
    assert main([str(bad), "-o", str(tmp_path / "g")]) == 2
    assert "[Error 22]" in capsys.readouterr().err


@pytest.mark.parametrize("weights", ["none.caffemodel", "empty.caffemodel"])
def test_cli_missing_or_empty_weights_compile_as_zeros(tmp_path, capsys,
                                                        weights):
    """NCSDK compiled a missing or 0-byte caffemodel as zero weights."""
    proto = tmp_path / "n.prototxt"
    proto.write_text(net((4, 4, 1), CONV))
    (tmp_path / "empty.caffemodel").write_bytes(b"")
    assert main([str(proto), "-o", str(tmp_path / "zeros.graph")]) == 0
    capsys.readouterr()
    assert main([str(proto), "-w", str(tmp_path / weights),
                 "-o", str(tmp_path / "g")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("[Warning] weights ")
    assert weights in err[0] and "zero weights" in err[0]
    assert (tmp_path / "g").read_bytes() == \
        (tmp_path / "zeros.graph").read_bytes()


def test_cli_corrupt_weights_file_is_error_22(tmp_path, capsys):
    proto = tmp_path / "n.prototxt"
    proto.write_text(net((4, 4, 1), CONV))
    (tmp_path / "bad.caffemodel").write_bytes(b"\xff\xff\xff\x0f garbage")
    assert main([str(proto), "-w", str(tmp_path / "bad.caffemodel"),
                 "-o", str(tmp_path / "g")]) == 2
    assert "[Error 22]" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()
