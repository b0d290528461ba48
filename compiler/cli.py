"""mvNCCompile: compile a network file into an NCS graph file."""
import argparse
import sys

import ncsformat as nf

from .api import compile_file, write_graph
from .errors import CompileError

OP_NAMES = {int(op): op.name.lower() for op in nf.Op}


def build_parser():
    p = argparse.ArgumentParser(
        prog="mvNCCompile",
        description="Compile a frozen TensorFlow GraphDef (.pb) into a graph "
                    "file for the Neural Compute Stick (NCSDK 1.x, v2).")
    p.add_argument("network", help="network file: frozen TensorFlow "
                   "GraphDef (.pb); other types as frontends are registered")
    p.add_argument("-w", dest="weights", metavar="WEIGHTS",
                   help="weights file, for formats that keep weights apart "
                        "(Caffe .caffemodel); not needed for a frozen .pb")
    p.add_argument("-s", dest="shaves", type=int, default=1, metavar="N",
                   help="number of SHAVE processors to use, 1..12 "
                        "(default 1)")
    p.add_argument("-in", dest="input_node", metavar="NODE",
                   help="compile from this node on; it becomes the network "
                        "input (default: the graph's placeholder)")
    p.add_argument("-on", dest="output_node", metavar="NODE",
                   help="compile up to this node; it becomes the network "
                        "output (default: the last node of the graph)")
    p.add_argument("-is", dest="input_size", nargs=2, type=int,
                   metavar=("W", "H"),
                   help="input width and height, when the input's shape "
                        "is not fixed in the graph")
    p.add_argument("-o", dest="output", default="graph", metavar="FILE",
                   help="graph file to write (default: graph)")
    return p


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
        result = compile_file(args.network, weights=args.weights,
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
