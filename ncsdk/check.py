"""mvNCCheck: compile a network, run it on the emulated stick and compare
the result with the framework's own on the same input.

The emulator core stays numpy-only: the compiler, TensorFlow and the Caffe
reference are imported lazily, inside the functions that need them.
"""
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from emulator import mvncapi as mvnc
from references import ReferenceMissing, run_reference

from . import image as imageio
from . import metrics
from .common import compile_from_args, network_parser, run_command

DESCRIPTION = """\
Check a network on the (emulated) Neural Compute Stick, as NCSDK's mvNCCheck
did: compile it, run one input through the stick and through the framework
(TensorFlow on a frozen .pb, the restored session for a .meta, the Caffe
reference executor for a .prototxt), print both top-5 lists and NCSDK's four
accuracy tests, and save both outputs as .npy.

Input (H x W x C is the network input's shape), in this order:
  1. the -i image (JPEG, PNG, ... via Pillow) as RGB (greyscale when C is 1),
     resized to W x H (bilinear), as float in [0, 1] (value / 255);
     without -i: uniform random values in [0, 1) from --seed (default 0);
  2. -cs channel order: output channel k = input channel cs[k]; the default
     2,1,0 turns RGB into BGR (only for 3-channel images; ignored for other
     inputs);
  3. times -S scale (default 1; 255 gives the 0..255 range);
  4. minus -M mean, per channel in the order after step 2.
The stick gets this tensor as fp16; the framework gets the same values as
float32, in the input's own rank (batch 1).

A 1-D to 3-D TensorFlow input (an MLP's [None, 100]) is not an image: it
gets random values (-S and -M apply, -cs does not) and -i is refused.

Output files: PREFIX_result.npy (the stick's output, float16, flat),
PREFIX_expected.npy (the framework's, float32, flat) and PREFIX_input.npy
(the H x W x C float32 input), PREFIX from --save (default: output).

Exit status: 0 when all four tests pass (and -id matches), 1 when a test
fails or the top-1 class differs from -id, 2 for a usage or compile error
("[Error N] Toolkit Error: ..." as mvNCCompile).
"""

EPILOG = """\
examples:
  mvNCCheck mnist_inference.meta -s 12 -in input -on output
  mvNCCheck net.pb -i cat.jpg -S 2 -M 1 -cs 0,1,2 -id 281
  mvNCCheck deploy.prototxt -w net.caffemodel -i cat.jpg -S 255 -M mean.npy
"""


def build_parser():
    p = network_parser("mvNCCheck", DESCRIPTION, EPILOG)
    p.add_argument("-o", dest="output", metavar="FILE",
                   help="also keep the compiled graph file here (default: a "
                        "temporary file, removed)")
    p.add_argument("-i", dest="image", metavar="IMAGE",
                   help="input image (JPEG, PNG, ...); default: seeded "
                        "random input")
    p.add_argument("-id", dest="expected_id", type=int, metavar="N",
                   help="expected top-1 class of the stick's result; exit "
                        "status 1 when it differs")
    p.add_argument("-S", dest="scale", type=float, default=1.0,
                   metavar="SCALE", help="multiply the [0, 1] input by this "
                                         "(default 1)")
    p.add_argument("-M", dest="mean", metavar="MEAN",
                   help="subtract this after scaling: a number, a comma list "
                        "(per channel) or a .npy of per-channel means (or a "
                        "mean image); channels in the order after -cs")
    p.add_argument("-cs", dest="channel_swap", default="2,1,0",
                   metavar="ORDER",
                   help="channel order: output channel k = image channel "
                        "ORDER[k] (default 2,1,0: RGB to BGR)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random input when there is no -i "
                        "(default 0)")
    p.add_argument("--save", dest="save_prefix", default="output",
                   metavar="PREFIX",
                   help="prefix of the .npy files written (default: output)")
    return p


# ---------------------------------------------------------------- steps

def graph_file_bytes(result, output):
    """Write the graph file (to -o, else a temporary one) and read it back:
    the stick runs the file's bytes, as it would from mvNCCompile."""
    from compiler.api import write_graph

    if output:
        return Path(write_graph(result, output)).read_bytes()
    with tempfile.TemporaryDirectory(prefix="mvNCCheck.") as tmp:
        return Path(write_graph(result, Path(tmp) / "graph")).read_bytes()


def make_input(args, shape, framework_shape=()):
    """The preprocessed (H, W, C) float32 input, and a line saying what.
    An input of the framework's rank 1 to 3 (an MLP's [1, N]) is not an
    image: random values only, no -cs."""
    _, h, w, c = shape
    image_like = len(framework_shape) in (0, 4)
    if args.image and not image_like:
        raise imageio.InputError(
            f"the network input has shape {list(framework_shape)}, not an "
            "image: run without -i (seeded random input)")
    if args.image:
        pixels = imageio.load_image(args.image, w, h, c)
        what = f"image {args.image} resized to {w}x{h}"
    else:
        pixels = imageio.random_image(w, h, c, args.seed)
        what = f"random [0, 1) input, seed {args.seed}"
    order = imageio.parse_channel_swap(args.channel_swap,
                                       c if image_like else 0)
    mean = imageio.parse_mean(args.mean, c) if args.mean is not None else None
    x = imageio.preprocess(pixels, args.scale, mean, order)
    return x, f"{what}; channels {order or 'as they are'}, scale " \
              f"{args.scale:g}, mean {'none' if mean is None else mean.tolist()}"


class StickError(RuntimeError):
    """The emulated stick refused the graph or the input."""


def stick_result(blob, x16):
    """One inference, with NCSDK's Exception(Status.X) as a StickError."""
    from emulator.infer import run_once
    try:
        return run_once(blob, x16, "mvNCCheck")[0]
    except Exception as exc:
        if exc.args and isinstance(exc.args[0], mvnc.Status):
            raise StickError(f"the stick refused the graph: "
                             f"{exc.args[0]}") from None
        raise


def save_npy(path, array):
    """np.save to a temporary name, then rename: whole or not at all."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------- main

def check(args):
    """The whole check; returns the exit status (0 pass, 1 fail)."""
    result = compile_from_args(args)
    x, described = make_input(args, result.input_shape,
                              result.framework_input_shape)
    blob = graph_file_bytes(result, args.output)
    x16 = x.astype(np.float16)
    stick = stick_result(blob, x16)
    expected = run_reference(args.network, args.weights, result.input_node,
                             result.output_node, x16.astype(np.float32),
                             result.framework_input_shape)
    report = metrics.compare(stick.astype(np.float32), expected)
    print(f"mvNCCheck: {args.network} ({result.input_node} -> "
          f"{result.output_node}), {result.stage_count} stages")
    print(f"Input: {described}")
    print(metrics.format_report(stick, expected, report))
    prefix = args.save_prefix
    for name, array in (("result", stick), ("expected", expected),
                        ("input", x)):
        save_npy(f"{prefix}_{name}.npy", array)
    print(f"Saved {prefix}_result.npy, {prefix}_expected.npy, "
          f"{prefix}_input.npy")
    passed = bool(report["passed"])
    if args.expected_id is not None:
        top1 = report["top5_result"][0][0]
        ok = top1 == args.expected_id
        print(f"Top-1 class: {top1}, expected (-id) {args.expected_id}: "
              f"{'Pass' if ok else 'Fail'}")
        passed = passed and ok
    print("Result: Pass" if passed else "Result: Fail")
    return 0 if passed else 1


def main(argv=None):
    args = build_parser().parse_args(argv)
    return run_command("mvNCCheck", lambda: check(args), imageio.InputError,
                       ReferenceMissing, StickError)


if __name__ == "__main__":
    sys.exit(main())
