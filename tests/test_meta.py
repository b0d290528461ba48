"""The .meta frontend: a saved TF session (meta graph + checkpoint) compiled
as NCSDK's guide does it for a user's own network, end to end through the
installed mvNCCompile and mvNCCheck."""
import numpy as np
import pytest

from cli_helpers import last_line, run_script, save_mnist

import tfcompat  # noqa: F401


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """mnist_inference.{meta,index,data-*} and the session's own output."""
    root = tmp_path_factory.mktemp("mnist")
    x, y = save_mnist(root / "mnist_inference")
    return root, x, y


def test_guide_commands_end_to_end(saved):
    """mvNCCompile then mvNCCheck, as the guide runs them: both pass."""
    root, _, _ = saved
    run = run_script("mvNCCompile", ["mnist_inference.meta", "-s", "12",
                                     "-in", "input", "-on", "output", "-o",
                                     "mnist_inference.graph"], root)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert "stages: 7" in run.stdout          # conv pool conv pool fc fc sm
    blob = (root / "mnist_inference.graph").read_bytes()
    assert len(blob) > 7 * 7 * 16 * 64 * 2    # the fc weights are in it
    check = run_script("mvNCCheck", ["mnist_inference.meta", "-s", "12",
                                     "-in", "input", "-on", "output", "-o",
                                     "checked.graph"], root)
    assert check.returncode == 0, check.stdout + check.stderr
    assert last_line(check.stdout) == "Result: Pass"
    assert check.stdout.count(", Pass") == 4
    # Same command, same bytes.
    assert (root / "checked.graph").read_bytes() == blob


def test_stick_matches_the_saved_session(saved):
    """The compiled graph on the emulated stick against the session's output
    that TF computed before saving (not through our code)."""
    from compiler import compile_file
    from emulator.infer import run_once

    root, x, y = saved
    blob = compile_file(root / "mnist_inference.meta", shaves=12).blob
    got = run_once(blob, x[0].astype(np.float16))[0].astype(np.float32)
    assert got.shape == (10,)
    # fp16 input and fp16 arithmetic: within 1 % of the largest probability.
    np.testing.assert_allclose(got, y.reshape(-1), atol=0.01 * y.max())
    assert int(np.argmax(got)) == int(np.argmax(y))


def test_defaults_prefix_and_last_node(saved, tmp_path):
    """No -w: the meta file's own prefix; no -on: the last network node
    (softmax 'output'), not the Saver's nodes after it. -w as a prefix or as
    its .index file gives the same graph."""
    from ncsdk.compile import main

    root, _, _ = saved
    meta = root / "mnist_inference.meta"
    prefix = root / "mnist_inference"
    outs = []
    for extra in ([], ["-on", "output", "-in", "input"], ["-w", prefix],
                  ["-w", f"{prefix}.index"]):
        out = tmp_path / f"g{len(outs)}"
        assert main([str(meta), *map(str, extra), "-o", str(out)]) == 0
        outs.append(out.read_bytes())
    assert all(b == outs[0] for b in outs)


def test_freeze_is_the_session(saved):
    """The frozen GraphDef computes what the restored session computes."""
    from compiler.frontends.tf_meta import freeze
    from references.tensorflow import run_session
    from compiler_helpers import run_frozen

    root, x, y = saved
    data, output = freeze(root / "mnist_inference.meta")
    assert output == "output"
    frozen = run_frozen(data, {"input:0": x}, "output:0")
    np.testing.assert_allclose(frozen, y, rtol=1e-6)
    again = run_session(root / "mnist_inference.meta", None, "input",
                        "output", x)
    np.testing.assert_allclose(again, y, rtol=1e-6)
