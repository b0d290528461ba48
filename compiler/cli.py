"""mvNCCompile: compile a network file into an NCS graph file."""
import argparse
import sys

import ncsformat as nf

from .api import compile_file, write_graph
from .errors import CompileError

OP_NAMES = {int(op): op.name.lower() for op in nf.Op}


DESCRIPTION = """\
Compile a network into a graph file for the Neural Compute Stick (NCSDK 1.x,
graph format version 2), as NCSDK's mvNCCompile did.

Network files, by suffix:
  .pb     a frozen TensorFlow GraphDef (variables already constants)
  .meta   a saved TensorFlow session (tf.train.Saver): the meta graph; its
          checkpoint is -w PREFIX, by default the meta file's own prefix
          (net.meta -> net, i.e. net.index + net.data-00000-of-00001)
  .prototxt  a Caffe deploy network (text); its weights are -w x.caffemodel,
          by default the prototxt's name with .caffemodel if that exists,
          else zeros (as NCSDK: enough to profile)

Save the inference version of a network: only the input may be a
placeholder (dropout's keep_prob or batch norm's is_training must be fixed
constants, else Error 34), with batch size 1.

Errors end with NCSDK's number and text, e.g. "[Error 13] Toolkit Error:
...", and exit status 2; nothing is written then.
"""

EPILOG = """\
example:
  mvNCCompile mnist_inference.meta -s 12 -in input -on output \\
      -o mnist_inference.graph
"""


def add_network_arguments(p):
    """The flags every NCSDK tool shares (mvNCCompile, mvNCCheck, mvNCProfile)."""
    p.add_argument("network", help="network file: .pb (frozen GraphDef), "
                   ".meta (saved session) or .prototxt (Caffe)")
    p.add_argument("-w", dest="weights", metavar="WEIGHTS",
                   help="weights: for .meta the checkpoint prefix (or its "
                        ".index file; default: the meta file's prefix); "
                        "for Caffe the .caffemodel (default: the prototxt's "
                        "name with .caffemodel, else zeros); not used for .pb")
    p.add_argument("-s", dest="shaves", type=int, default=1, metavar="N",
                   help="number of SHAVE processors to use, 1..12 "
                        "(default 1; NCSDK's examples use 12)")
    p.add_argument("-in", dest="input_node", metavar="NODE",
                   help="compile from this node on; it becomes the network "
                        "input (default: the placeholder the output needs)")
    p.add_argument("-on", dest="output_node", metavar="NODE",
                   help="compile up to this node; it becomes the network "
                        "output (default: the last node of the graph; for "
                        ".meta the last one that is not a variable, "
                        "initialiser or Saver node)")
    p.add_argument("-is", dest="input_size", nargs=2, type=int,
                   metavar=("W", "H"),
                   help="input width and height, when the input's shape "
                        "is not fixed in the graph (overrides it)")


def build_parser():
    p = argparse.ArgumentParser(
        prog="mvNCCompile", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_network_arguments(p)
    p.add_argument("-o", dest="output", default="graph", metavar="FILE",
                   help="graph file to write, atomically (default: graph)")
    return p


def weights_argument(network, weights):
    """-w as compile_file takes it (a checkpoint prefix names no file)."""
    if str(network).lower().endswith(".meta"):
        from .frontends.tf_meta import weights_file
        return weights_file(weights)
    return weights


def summary(result, path):
    lines = [f"{i:4d} {OP_NAMES.get(s.op, s.op):<22} "
             f"{'x'.join(map(str, s.output_dims)):<14} {s.name}"
             for i, s in enumerate(result.stages)]
    lines.append(f"stages: {len(result.stages)}  file: {path} "
                 f"({len(result.blob)} bytes)  scratch: "
                 f"{result.scratch_bytes} bytes")
    return "\n".join(lines)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        weights = weights_argument(args.network, args.weights)
        result = compile_file(args.network, weights=weights,
                              shaves=args.shaves, input_node=args.input_node,
                              output_node=args.output_node,
                              input_size=args.input_size)
        path = write_graph(result, args.output)
    except CompileError as exc:
        print(exc, file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"mvNCCompile: cannot write {args.output}: {exc.strerror}",
              file=sys.stderr)
        return 2
    print(summary(result, path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
