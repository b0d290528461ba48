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
    assert cm.ncsdk_flops(fc) == 2 * 1000               # Caffe, 1x1 input
    assert cm.ncsdk_flops(fc, "tensorflow") == 2 * 1024 * 1000
    yolo = stage(Op.FC, (7, 7, 256), (1, 1, 1470))      # tiny-yolo's fc9
    assert round(cm.ncsdk_flops(yolo) / 1e6, 5) == 36.87936
    dw = stage(Op.DEPTH_CONV, (112, 112, 32), (112, 112, 64), (3, 3))
    assert cm.stage_flops(dw) == 2 * 112 * 112 * 32 * 9 * 2


def test_caffe_deconvolutions_and_sums_print_zero_mflops():
    de = stage(Op.DECONV, (68, 48, 21), (568, 408, 21), (32, 32), (8, 8))
    assert cm.ncsdk_flops(de) == 0
    assert cm.stage_flops(de) == 2 * 68 * 48 * 21 * 21 * 32 * 32
    assert cm.ncsdk_flops(stage(Op.SUM, (4, 4, 2), (4, 4, 2))) == 0


def test_bytes_count_input_output_weights_and_bias():
    want = 2 * (56 * 56 * 64 + 56 * 56 * 192 + 9 * 64 * 192)
    assert cm.stage_bytes(CONV2) == want


def test_ncsdk_bandwidth_bytes_read_each_window_and_the_weights():
    """GoogLeNet's conv2/3x3: 316.67 MB/s x 11.55 ms = 3.657 MiB."""
    got = cm.ncsdk_bytes(CONV2)
    assert got == 2 * (56 * 56 * 64 * 9 + 9 * 64 * 192)
    assert got / 2 ** 20 == pytest.approx(316.67 * 11.55e-3, rel=0.01)


def test_shave_scaling_12_is_2_to_4x_of_1_and_4_8_12_close():
    t = {n: cm.stage_time_ms(CONV2, n) for n in (1, 4, 8, 12)}
    assert 2 <= t[1] / t[12] <= 4
    assert t[4] / t[12] < 1.5 and t[8] / t[12] < 1.15
    assert t[1] > t[4] > t[8] > t[12]


def test_time_is_the_sum_of_coefficient_times_count():
    coef = {k: 0.0 for k in cm.TERMS}
    coef.update(overhead=1.0, conv_setup=0.5, conv=10.0, conv_out=2.0,
                weights=0.25)
    p = cm.CostParams(coef=coef, parallel_fraction=0.8)
    st = stage(Op.CONV, (10, 10, 16), (10, 10, 8))
    gflops = 2 * 100 * 8 * 16 / 1e9
    want = 1.0 + 0.5 + 10.0 * gflops + 2.0 * 800 / 1e6 + 0.25 * 2 * 128 / 1e6
    assert cm.stage_time_ms(st, 12, p) == pytest.approx(want)


def test_deconvolution_scatters_whole_output_vectors():
    """Per (input pixel, tap): ceil(Cout/8) vectors; 2 and 8 channels are
    one vector, 21 three."""
    def scatters(cout):
        return cm.basis(stage(Op.DECONV, (10, 5, cout), (20, 10, cout),
                              (4, 4), (2, 2)))["deconv"] * 1e6
    assert scatters(2) == scatters(8) == 10 * 5 * 16
    assert scatters(21) == 3 * 10 * 5 * 16


def test_pooling_counts_its_input_not_its_taps():
    two = stage(Op.MAX_POOL, (56, 56, 64), (28, 28, 64), (2, 2), (2, 2))
    three = stage(Op.MAX_POOL, (56, 56, 64), (28, 28, 64), (3, 3), (2, 2))
    assert cm.basis(two) == cm.basis(three) == {
        "overhead": 1.0, "pool": 56 * 56 * 64 / 1e6}


def test_fc_and_conv_weights_stream_at_one_rate():
    fc = cm.basis(stage(Op.FC, (7, 7, 512), (1, 1, 4096)))
    assert fc == {"overhead": 1.0, "weights": 2 * 25088 * 4096 / 1e6}
    assert cm.basis(CONV2)["weights"] == 2 * 9 * 64 * 192 / 1e6


def test_three_channel_3x3_runs_far_below_a_7x7():
    """Kernel rows fill 8-lane vectors: 3x3x3 = 9 values in 16 lanes,
    7x7x3 = 21 in 24, so per FLOP the 3x3 on RGB costs ~1.5x more."""
    k3 = stage(Op.CONV, (224, 224, 3), (224, 224, 64), (3, 3), bias=True)
    per3 = cm.term_ms(k3)["conv"] / cm.stage_flops(k3)
    per7 = cm.term_ms(CONV1)["conv"] / cm.stage_flops(CONV1)
    assert per3 / per7 == pytest.approx((16 / 9) / (24 / 21))


def test_googlenet_big_convs_within_1_5x_of_measured():
    """One conv rate for eight nets: GoogLeNet's conv2/3x3 (60 GFLOPS
    measured) is among the fastest, so it is predicted slow."""
    assert 5.63 / 1.5 < cm.stage_time_ms(CONV1) < 5.63 * 1.5
    assert 11.55 / 1.5 < cm.stage_time_ms(CONV2) < 11.55 * 1.5


def test_uncovered_stage_kinds_use_the_documented_prior():
    assert "other" in cm.DEFAULT.priors
    relu = stage(Op.ELU, (10, 10, 10), (10, 10, 10))
    assert cm.basis(relu) == {"overhead": 1.0, "other": 1e-3}
