"""The reader refuses every class of malformed graph file with the Status
the NCSDK API reports, and accepts a well-formed one."""
import struct

import numpy as np
import pytest

import ncsformat as nf
from emulator import Status
from emulator.executor import Executor
from emulator.reader import GraphFileError, load_graph
from emulator_helpers import T, GraphBuilder, Op, PadStyle, Region, compact

STAGE0 = nf.HEADER_LENGTH          # offset of the first stage record


def good_builder():
    """conv 3x3 SAME (with bias) -> work buffer -> relu -> output."""
    b = GraphBuilder(shaves=4)
    mid = b.buffer(4, 4, 2)
    b.stage(Op.CONV, b.input(4, 4, 3), mid,
            taps=b.const(np.ones((3, 3, 3, 2))), bias=b.const([1, 2]),
            tap_dims=(9, 3, 2), radix=(3, 3), pad_style=PadStyle.TF_SAME)
    b.stage(Op.RELU, mid, b.output(4, 4, 2))
    return b


def refuse(blob, status=Status.UNSUPPORTED_GRAPH_FILE, match=None):
    with pytest.raises(GraphFileError, match=match) as e:
        load_graph(blob)
    assert e.value.status == status


def patched(blob, offset, fmt, value):
    out = bytearray(blob)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def with_stage(builder, index, **changes):
    """The builder's file with fields of one stage record changed."""
    for k, v in changes.items():
        setattr(builder.stages[index], k, v)
    return builder.build()


def test_well_formed_file_loads():
    g = load_graph(good_builder().build())
    assert len(g.stages) == 2 and g.shaves == 4
    assert g.input_bytes == 4 * 4 * 3 * 2
    assert g.output_count == 4 * 4 * 2
    mid_guard = nf.guard_band(4, 2)
    assert g.scratch_bytes == 2 * mid_guard + 4 * 4 * 2 * 2


def test_shorter_than_header():
    refuse(good_builder().build()[:200], match="shorter")
    refuse(b"", match="shorter")


def test_wrong_version():
    refuse(patched(good_builder().build(), nf.VERSION_OFFSET, "<I", 3),
           match="version")


def test_file_size_field_differs_from_length():
    blob = good_builder().build()
    refuse(patched(blob, 32, "<I", len(blob) + 64), match="size")
    refuse(blob + b"\0" * 64, match="size")


def test_stage_count_inconsistent_with_data_start():
    blob = good_builder().build()
    refuse(patched(blob, nf.N_STAGES_OFFSET, "<I", 3), match="data start")
    refuse(patched(blob, nf.N_STAGES_OFFSET, "<I", 0))
    refuse(patched(blob, nf.N_STAGES_OFFSET, "<I", 1 << 16))


def test_truncated_stage_records():
    blob = good_builder().build()[:STAGE0 + 300]
    refuse(patched(blob, 32, "<I", len(blob)), match="truncated")


def test_shave_range():
    blob = good_builder().build()
    refuse(patched(blob, 250, "<H", 12), match="shaves")
    refuse(patched(blob, 248, "<H", 1), match="shaves")


@pytest.mark.parametrize("field,value,match", [
    ("op", 99, "unknown op"),
    ("op", 16, "does not run"),
    ("post_op", 8, "unknown postOp"),
    ("post_op", 200, "unknown postOp"),
    ("pad_style", 4, "padStyle"),
    ("datatype", 1, "datatype"),
    ("precision", 3, "datatype"),
    ("storage_order", 1, "storage"),
    ("pre_op", 6, "preOp"),
])
def test_unknown_enumerated_values(field, value, match):
    refuse(with_stage(good_builder(), 0, **{field: value}), match=match)


@pytest.mark.parametrize("field,value", [("input_dims", (4, 0, 3)),
                                         ("output_dims", (0, 4, 2))])
def test_zero_dims(field, value):
    refuse(with_stage(good_builder(), 0, **{field: value}), match="zero")


@pytest.mark.parametrize("changes,match", [
    ({"output_dims": (5, 4, 2)}, "geometry"),
    ({"tap_dims": (9, 2, 2)}, "tap dims"),
    ({"radix": (0, 3)}, "must be >= 1"),
    ({"stride": (1, 0)}, "must be >= 1"),
    ({"pad_style": PadStyle.NONE}, "no valid window"),
    ({"pad_style": PadStyle.CAFFE, "pad": (3, 3)}, "no valid window"),
])
def test_inconsistent_geometry(changes, match):
    refuse(with_stage(good_builder(), 0, **changes), match=match)


def test_taps_outside_the_data_section():
    b = good_builder()
    b.stages[0].taps = nf.Operand(Region.DATA, 64 * 100)
    refuse(b.build(), match="outside region 3")


def test_weights_running_past_the_end_of_the_data_section():
    b = good_builder()
    b.stages[0].taps = nf.Operand(Region.DATA, 128)  # the bias block: too short
    refuse(b.build(), match="outside region 3")


def test_write_outside_the_output_region():
    b = good_builder()
    b.stages[1].output = nf.Operand(Region.OUTPUT, 2)
    refuse(b.build(), match="outside region 2")


def test_read_outside_the_input_region():
    """The first read of index 1 defines the input; a later one past it is
    refused."""
    b = good_builder()
    b.stage(Op.RELU, T(Region.INPUT, 64, (4, 4, 3), compact(4, 4, 3)),
            b.output(4, 4, 3))
    refuse(b.build(), match="outside region 1")


def test_output_of_more_than_64_mi_values():
    b = good_builder()
    b.stages[1].output_dims = (1, 1, 1)
    b.stages[1].input_dims = (1, 1, 1)
    b.stages[1].output_strides = (2 * nf.MAX_OUTPUT_VALUES + 2, 0, 2)
    refuse(b.build(), match="output of")


def test_scratch_above_100_mib():
    b = good_builder()
    far = nf.MAX_SCRATCH - 16
    b.stages[0].output = nf.Operand(5, far)
    b.stages[1].data = nf.Operand(5, far)
    refuse(b.build(), match="scratch")


def test_last_stage_must_write_the_output():
    b = good_builder()
    b.stages[1].output = nf.Operand(Region.WORK + 1, 4096)
    refuse(b.build(), match="last stage")


@pytest.mark.parametrize("operand,value,match", [
    ("output", nf.Operand(Region.INPUT, 0), "read-only"),
    ("output", nf.Operand(Region.DATA, 0), "read-only"),
    ("data", nf.Operand(Region.NONE, 0), "index 0"),
    ("output", nf.Operand(Region.OUTPUT, 1), "aligned"),
])
def test_bad_operands(operand, value, match):
    b = good_builder()
    setattr(b.stages[1], operand, value)
    refuse(b.build(), match=match)


def test_data_pointer_not_64_aligned():
    b = good_builder()
    b.stages[0].bias = nf.Operand(Region.DATA, 66)
    refuse(b.build(), match="multiple of 64")


def test_overlapping_strides():
    refuse(with_stage(good_builder(), 1, output_strides=(2, 16, 2)),
           match="overlap")


def test_absurd_work():
    b = GraphBuilder()
    b.stage(Op.FC, b.input(1, 1, 1), b.output(1, 1, 1 << 20),
            taps=nf.Operand(Region.DATA, 0), tap_dims=(1, 1, 1 << 20))
    b.stages[0].input_dims = (1 << 15, 1, 1)
    b.stages[0].tap_dims = (1, 1 << 15, 1 << 20)
    refuse(b.build(), match="absurd")


def test_crop_offsets_beyond_input():
    b = GraphBuilder()
    params = b.raw(np.array([2, 0, 0], "<u4").tobytes())
    b.stage(Op.CROP, b.input(4, 4, 1), b.output(3, 3, 1), op_params=params)
    refuse(b.build(), match="crop offsets")


def test_pool_window_wholly_in_padding_is_refused():
    b = GraphBuilder()   # in 5, k 1, s 3, Caffe pad 0 -> window at 6
    b.stage(Op.MAX_POOL, b.input(5, 1, 1), b.output(3, 1, 1), radix=(1, 1),
            stride=(3, 1), pad_style=PadStyle.CAFFE)
    refuse(b.build(), match="wholly")


def test_wrong_input_size_at_run_is_invalid_parameters():
    ex = Executor(load_graph(good_builder().build()))
    with pytest.raises(GraphFileError) as e:
        ex.run(b"\0" * 10)
    assert e.value.status == Status.INVALID_PARAMETERS


# NCSDK 1.x's own files (ncs-graph-format, "What NCSDK 1.x itself wrote"):
# what is accepted, with a warning, and NCSDK-like shapes that are refused.

def test_clean_file_has_no_warnings():
    assert load_graph(good_builder().build()).warnings == []


def test_storage_order_4_is_read_from_the_strides():
    b = good_builder()
    for st in b.stages:
        st.storage_order = 4
    g = load_graph(b.build())
    x = np.arange(48, dtype=np.float16).reshape(4, 4, 3)
    want = Executor(load_graph(good_builder().build())).run(x.tobytes())
    np.testing.assert_array_equal(Executor(g).run(x.tobytes()), want)
    assert g.warnings == ["storage order 4 (ZYX) on 2 stage(s), read as YXZ "
                          "from the strides (as NCSDK 1.x wrote Caffe graphs)"]


@pytest.mark.parametrize("order", [0, 1, 3, 5, 6])
def test_other_storage_orders_are_refused(order):
    refuse(with_stage(good_builder(), 0, storage_order=order),
           match=f"storage order {order}")


@pytest.mark.parametrize("op", [16, 17, 18, 25, 26, 28, 30, 33, 36, 40])
def test_ncsdk_ops_the_stick_does_not_run(op):
    refuse(with_stage(good_builder(), 1, op=op), match="does not run")


def copy_builder(first=1, oc=2, **changes):
    """input 3x2x4 -> relu into a work buffer -> copy channels first..,
    the last stage."""
    b = GraphBuilder()
    mid = b.buffer(3, 2, 4)
    b.stage(Op.RELU, b.input(3, 2, 4), mid)
    b.stage(Op.COPY, mid.channels(first, first + oc), b.output(3, 2, oc),
            tap_dims=(1, 4, oc))
    b.stages[1].input_dims = (3, 2, 4)   # NCSDK: the producer's dims
    for k, v in changes.items():
        setattr(b.stages[1], k, v)
    return b


def test_copy_takes_channels_where_the_pointer_points():
    x = np.arange(24, dtype=np.float16).reshape(2, 3, 4)
    g = load_graph(copy_builder().build())
    out = Executor(g, debug=True).run(x.tobytes())
    np.testing.assert_array_equal(out.reshape(2, 3, 2), x[..., 1:3])


@pytest.mark.parametrize("builder,match", [
    (lambda: copy_builder(first=3), "channels 3..4 of a 4-channel"),
    (lambda: copy_builder(first=0, oc=5), "copy from"),
    (lambda: copy_builder(tap_dims=(1, 2, 2)), "tapDimY"),
    (lambda: copy_builder(output_dims=(2, 2, 2)), "keeps W and H"),
    (lambda: copy_builder(bias=nf.Operand(Region.DATA, 0)), "bias"),
    (lambda: copy_builder(data=nf.Operand(9, 4096)), "no earlier stage"),
])
def test_malformed_copies_are_refused(builder, match):
    refuse(builder().build(), match=match)


def test_copy_pointer_before_its_tensor_is_refused():
    b = copy_builder(first=0)
    b.stages[1].data = nf.Operand(b.stages[1].data.index,
                                  b.stages[1].data.pointer - 2)
    refuse(b.build(), match="channels -1")


def oversize_builder(op=Op.SIGMOID, **changes):
    """sigmoid of 3x2x1 declared 3x2x3 (strideX 6) as the last stage."""
    b = GraphBuilder()
    b.stage(op, b.input(3, 2, 1), b.output(3, 2, 3))
    for k, v in changes.items():
        setattr(b.stages[0], k, v)
    return b


def test_oversize_stage_writes_what_it_computes_through_the_strides():
    x = np.array([0, 1, -1, 2, -2, 3], np.float16)
    g = load_graph(oversize_builder().build())
    out = Executor(g, debug=True).run(x.tobytes()).astype(np.float32)
    assert g.output_count == 3 * 2 * 6 // 2
    want = np.zeros((6, 3), np.float32)
    want[:, 0] = 1 / (1 + np.exp(-x.astype(np.float32)))
    np.testing.assert_allclose(out.reshape(6, 3), want, atol=1e-3)
    assert len(g.warnings) == 1 and "declared 3x2x3" in g.warnings[0]


@pytest.mark.parametrize("builder,match", [
    (lambda: oversize_builder(Op.SOFTMAX), "output dims"),
    (lambda: oversize_builder(bias=nf.Operand(Region.DATA, 0)),
     "output dims"),
    (lambda: oversize_builder(output_dims=(4, 2, 3)), "output dims"),
])
def test_oversize_outside_what_ncsdk_wrote_is_refused(builder, match):
    refuse(builder().build(), match=match)


def test_early_write_to_the_result_area_grows_it():
    """NCSDK's Caffe input stage: the input copied into index 2, then a
    smaller last stage; GetResult returns the last stage's size."""
    b = GraphBuilder()
    x = b.input(4, 4, 3)
    b.stage(Op.NONE, x, b.output(4, 4, 3), name="data", pad_style=2)
    b.stage(Op.RELU, T(Region.INPUT, 0, (1, 1, 3), (6, 24, 2)),
            b.output(1, 1, 3))
    g = load_graph(b.build())
    assert (g.output_count, g.output_region_bytes) == (3, 96)
    assert "result area" in g.warnings[0]
    inp = np.arange(-24, 24, dtype=np.float16)
    np.testing.assert_array_equal(Executor(g).run(inp.tobytes()),
                                  np.maximum(inp[:3], 0))


def test_result_area_writes_are_bounded():
    b = GraphBuilder()
    b.stage(Op.NONE, b.input(1, 1, 1), b.output(1, 1, 1))
    b.stage(Op.NONE, b.input(1, 1, 1), b.output(1, 1, 1))
    b.stages[0].output = nf.Operand(Region.OUTPUT, 2 * nf.MAX_OUTPUT_VALUES)
    refuse(b.build(), match="result area reach")


def test_eltwise_operand_from_input_and_data_section_is_noted():
    b = GraphBuilder()
    x = b.input(2, 2, 1)
    mid = b.buffer(2, 2, 1)
    k = b.const([1, 2, 3, 4])
    b.stage(Op.SUM, x, mid,
            taps=T(k.index, k.pointer, (2, 2, 1), compact(2, 2, 1)))
    b.stage(Op.SUM, mid, b.output(2, 2, 1), taps=x)
    g = load_graph(b.build())
    inp = np.array([1, 1, 1, 1], np.float16)
    np.testing.assert_array_equal(Executor(g).run(inp.tobytes()),
                                  [3, 4, 5, 6])
    text = " ".join(g.warnings)
    assert "index 3" in text and "index 1" in text


def test_non_square_tensorflow_input_is_noted():
    b = GraphBuilder(name="TensorFlow Network")
    b.stage(Op.RELU, b.input(3, 2, 1), b.output(3, 2, 1))
    assert "transposed" in load_graph(b.build()).warnings[0]
    b.name = "my net"
    assert load_graph(b.build()).warnings == []
