"""Cost model: FLOP counts against NCSDK's GoogLeNet profile (the MFLOPs
column of tests/data/googlenet_caffe_12shaves_profile.csv), shave scaling
and the shape of the time estimate."""
import pytest

import ncsformat as nf
from emulator import costmodel as cm
from ncsformat import Op, PadStyle


def stage(op, in_dims, out_dims, radix=(1, 1), stride=(1, 1), bias=False):
    return nf.Stage(name="s", op=op, input_dims=in_dims, output_dims=out_dims,
                    radix=radix, stride=stride, pad_style=PadStyle.CAFFE,
                    bias=nf.Operand(3, 0) if bias else None)


CONV1 = stage(Op.CONV, (224, 224, 3), (112, 112, 64), (7, 7), (2, 2), True)
CONV2 = stage(Op.CONV, (56, 56, 64), (56, 56, 192), (3, 3), bias=True)


@pytest.mark.parametrize("st,mflops", [
    (CONV1, 236.028),                                               # conv1/7x7_s2
    (CONV2, 693.633),                                               # conv2/3x3
    (stage(Op.MAX_POOL, (112, 112, 64), (56, 56, 64), (3, 3), (2, 2)), 1.806),
    (stage(Op.AVG_POOL, (7, 7, 1024), (1, 1, 1024), (7, 7)), 0.100),  # pool5
    (stage(Op.SOFTMAX, (1, 1, 1000), (1, 1, 1000)), 0.003),          # prob
    (stage(Op.LRN, (56, 56, 64), (56, 56, 64), (5, 5)), 0.0),        # norm1
])
def test_flops_match_ncsdk_profile(st, mflops):
    assert cm.stage_flops(st) / 1e6 == pytest.approx(mflops, abs=0.0006)


def test_fc_and_depthwise_flops_follow_the_stated_rules():
    fc = stage(Op.FC, (1, 1, 1024), (1, 1, 1000))
    assert cm.stage_flops(fc) == 2 * 1024 * 1000       # the work timed
    assert cm.ncsdk_flops(fc) == 2 * 1000               # what NCSDK printed
    dw = stage(Op.DEPTH_CONV, (112, 112, 32), (112, 112, 64), (3, 3))
    assert cm.stage_flops(dw) == 2 * 112 * 112 * 32 * 9 * 2


def test_bytes_count_input_output_weights_and_bias():
    want = 2 * (56 * 56 * 64 + 56 * 56 * 192 + 9 * 64 * 192 + 192)
    assert cm.stage_bytes(CONV2) == want


def test_shave_scaling_12_is_2_to_4x_of_1_and_4_8_12_close():
    t = {n: cm.stage_time_ms(CONV2, n) for n in (1, 4, 8, 12)}
    assert 2 <= t[1] / t[12] <= 4
    assert t[4] / t[12] < 1.5 and t[8] / t[12] < 1.15
    assert t[1] > t[4] > t[8] > t[12]


def test_time_is_overhead_plus_compute_plus_memory():
    p = cm.DEFAULT.with_(overhead_ms=1.0, ddr_gbytes_s=1.0)
    st = stage(Op.RELU, (10, 10, 10), (10, 10, 10))
    compute = 1000 / (p.peak_gflops_12 * 1e9 * p.efficiency["other"])
    want = 1.0 + 1e3 * (compute + 4000 / 1e9)
    assert cm.stage_time_ms(st, 12, p) == pytest.approx(want)


def test_googlenet_big_convs_within_2x_of_measured():
    assert 5.63 / 2 < cm.stage_time_ms(CONV1) < 5.63 * 2
    assert 11.55 / 2 < cm.stage_time_ms(CONV2) < 11.55 * 2
