"""mvNCCheck's metrics on hand-computed arrays."""
import math
import re

import numpy as np
import pytest

from ncsdk.metrics import compare, format_report, top5

EXPECTED = np.array([10.0, 5.0, 0.0, -2.0, 1.0])


def test_small_error_passes_with_hand_computed_values():
    # one value off by 0.1; ref = 10
    m = compare([10.1, 5, 0, -2, 1], EXPECTED)
    assert m["reference"] == 10.0
    assert m["max_error"]["value"] == pytest.approx(1.0)          # 0.1/10
    assert m["mean_error"]["value"] == pytest.approx(0.2)         # 0.02/10
    assert m["wrong_share"]["value"] == 0.0
    assert m["rms_error"]["value"] == pytest.approx(
        100 * math.sqrt(0.01 / 5) / 10)                           # 0.447 %
    assert m["global_sum_difference"] == pytest.approx(0.1)
    assert m["passed"] and all(m[k]["passed"] for k in
                               ("max_error", "mean_error", "wrong_share",
                                "rms_error"))


def test_one_value_three_percent_off_fails_max_and_share():
    m = compare([10, 5.3, 0, -2, 1], EXPECTED)                    # 0.3/10 = 3 %
    assert m["max_error"]["value"] == pytest.approx(3.0)
    assert not m["max_error"]["passed"]
    assert m["wrong_share"]["value"] == pytest.approx(20.0)       # 1 of 5
    assert not m["wrong_share"]["passed"]
    assert m["mean_error"]["value"] == pytest.approx(0.6)
    assert m["mean_error"]["passed"]
    assert not m["passed"]


def test_allowed_values_are_ncsdks():
    m = compare(EXPECTED, EXPECTED)
    assert [m[k]["allowed"] for k in ("max_error", "mean_error", "wrong_share",
                                      "rms_error")] == [2.0, 1.0, 0.0, 1.0]
    assert m["passed"] and m["max_error"]["value"] == 0.0


def test_reference_is_max_abs_of_expected():
    m = compare([0, 0.1], [0, -4.0])       # ref 4; diffs 0 and 4.1
    assert m["reference"] == 4.0
    assert m["max_error"]["value"] == pytest.approx(102.5)


def test_nan_in_result_fails():
    m = compare([np.nan, 5, 0, -2, 1], EXPECTED)
    assert not m["passed"] and not m["max_error"]["passed"]


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        compare([1, 2], [1, 2, 3])


def test_top5_largest_first_with_indices():
    assert top5([0.1, 0.5, 0.05, 0.3, 0.02, 0.9, 0.0]) == [
        (5, 0.9), (1, 0.5), (3, 0.3), (0, 0.1), (2, 0.05)]


def test_report_text_block():
    r = np.array([10.1, 5, 0, -2, 1])
    text = format_report(r, EXPECTED)
    lines = text.splitlines()
    assert lines[0] == "Result:  (5,)"
    assert lines[1] == "1) 0 10.1"
    assert lines[2] == "2) 1 5"
    assert "Expected:  (5,)" in lines
    assert " Obtained values " in lines
    line = next(l for l in lines if "Min Pixel Accuracy" in l)
    assert re.fullmatch(r" Obtained Min Pixel Accuracy: ([0-9.]+)% "
                        r"\(max allowed=2%\), Pass", line)
    assert float(line.split(": ")[1].split("%")[0]) == pytest.approx(1.0)
    assert any(l.startswith(" Obtained Average Pixel Accuracy: 0.")
               and l.endswith("(max allowed=1%), Pass") for l in lines)
    assert " Obtained Percentage of wrong values: 0.0% (max allowed=0%), " \
        "Pass" in lines
    assert any(l.startswith(" Obtained Pixel-wise L2 error: 0.44")
               for l in lines)
    assert any(l.startswith(" Obtained Global Sum Difference: 0.")
               for l in lines)
    failing = format_report(np.array([10, 5.3, 0, -2, 1]), EXPECTED)
    assert "Percentage of wrong values: 20.0% (max allowed=0%), Fail" in failing
