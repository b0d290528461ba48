"""What the NCSDK commands share: the network flags and compiling from them."""
import argparse
import sys


class CommandError(RuntimeError):
    """A failure a user caused that has no NCSDK number: one line, exit 2."""


def run_command(prog, body, *user_errors):
    """body() -> exit status. What a user can cause ends in one line on
    stderr and status 2, never a traceback: NCSDK's own error line as it
    stands, anything else after the command's name."""
    from compiler.errors import CompileError
    try:
        return body()
    except CompileError as exc:
        print(exc, file=sys.stderr)
    except OSError as exc:
        print(f"{prog}: {exc.filename or ''}: {exc.strerror or exc}",
              file=sys.stderr)
    except (CommandError, *user_errors) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
    return 2


def network_parser(prog, description, epilog):
    """An NCSDK tool's argument parser, with the network flags it shares."""
    p = argparse.ArgumentParser(
        prog=prog, description=description, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_network_arguments(p)
    return p


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


def weights_argument(network, weights):
    """-w as compile_file takes it (a checkpoint prefix names no file)."""
    if str(network).lower().endswith(".meta"):
        from compiler.frontends.tf_meta import weights_file
        return weights_file(weights)
    return weights


def compile_from_args(args, warn=True):
    """compile_file with the flags of add_network_arguments (the result
    names its input, output and input shape); its warnings go to stderr as
    "[Warning] ..." lines."""
    from compiler.api import compile_file

    result = compile_file(args.network,
                          weights=weights_argument(args.network,
                                                   args.weights),
                          shaves=args.shaves, input_node=args.input_node,
                          output_node=args.output_node,
                          input_size=args.input_size)
    if warn:
        print_warnings(result)
    return result


def print_warnings(result):
    for line in getattr(result, "warnings", []):
        print(f"[Warning] {line}", file=sys.stderr)
