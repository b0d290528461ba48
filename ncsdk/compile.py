"""mvNCCompile: compile a network file into an NCS graph file."""
import sys

import ncsformat as nf

from compiler.api import write_graph

from .common import (CommandError, compile_from_args, network_parser,
                     run_command)

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
          else zeros (as NCSDK: enough to profile; a -w file that is
          missing or empty gives zeros too, with a warning)

Save the inference version of a network: only the input may be a
placeholder (dropout's keep_prob or batch norm's is_training must be fixed
constants, else Error 34). As NCSDK did, a TensorFlow input of batch None
or N > 1 is compiled as batch 1, Keras's learning phase is False (its
Switch/Merge branches fold to inference) and values known at compile time
(tf.shape arithmetic, constant subexpressions) are computed; a Caffe input
must have batch 1 (Error 24). Inputs may be images [N, H, W, C] or vectors
[N, C] (an MLP). Notes such as the batch taken as 1 are printed as
"[Warning] ..." lines on stderr.

Errors end with NCSDK's number and text, e.g. "[Error 13] Toolkit Error:
...", and exit status 2; nothing is written then.
"""

EPILOG = """\
example:
  mvNCCompile mnist_inference.meta -s 12 -in input -on output \\
      -o mnist_inference.graph
"""


def build_parser():
    p = network_parser("mvNCCompile", DESCRIPTION, EPILOG)
    p.add_argument("-o", dest="output", default="graph", metavar="FILE",
                   help="graph file to write, atomically (default: graph)")
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

    def body():
        result = compile_from_args(args)
        try:
            path = write_graph(result, args.output)
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: "
                               f"{exc.strerror}") from None
        print(summary(result, path))
        return 0
    return run_command("mvNCCompile", body)


if __name__ == "__main__":
    sys.exit(main())
