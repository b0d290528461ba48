"""mvNCProfile: compile a network, run it on the emulated stick and report
the time of each layer, as NCSDK's mvNCProfile did.

The compiler is imported lazily (the emulator core stays numpy-only). The
times are the stick's TIME_TAKEN after one inference, i.e. the cost model's
estimates (emulator/costmodel.py), so profile and API always agree.
"""
import os
import sys
from pathlib import Path

import numpy as np

from emulator.infer import run_once
from emulator.reader import load_graph

from .common import compile_from_args, network_parser, run_command
from .profile_compare import (MeasuredFileError, attach, format_comparison,
                              load_measured)
from .profile_report import build_profile, format_table, report_texts

DESCRIPTION = """\
Profile a network on the (emulated) Neural Compute Stick, as NCSDK's
mvNCProfile did: compile it (as mvNCCompile), load the graph file on the
stick, run one inference and print the time of every layer as NCSDK's
"Detailed Per Layer Profile" table (#, Name, MFLOPs, Bandwidth MB/s,
time(ms)) and the total inference time.

Times are estimates of a first-generation stick (Myriad 2) at the -s SHAVE
count from a cost model fitted to measured NCSDK profiles of eight
networks (emulator/costmodel.py): a fixed cost per layer plus per-type
costs of its FLOPs, values and bytes. MFLOPs and Bandwidth are printed as
NCSDK printed them: Caffe fully connected layers 2 x outputs, TensorFlow
ones 2 x inputs x outputs, Caffe deconvolutions 0; bandwidth = the input
(times kh x kw for a convolution) and weights, in MiB, over the time.

--compare MEASURED (a measured profile: the JSON of ncsdk/measurements/
or NCSDK's table as CSV) prints the measured time of each layer beside the
prediction, matched by stage name (Caffe: the top name NCSDK printed), the
totals and the layers that did not match; the reports show both.

Reports (-of): PREFIX.html (per-layer bar chart of time and MFLOPs, and a
drawing of the network as executed, self-contained), PREFIX.csv and
PREFIX.json with the same numbers. Exit status 2 for a compile error
("[Error N] Toolkit Error: ..."), with nothing written.
"""

EPILOG = """\
examples:
  mvNCProfile deploy.prototxt -s 12
  mvNCProfile deploy.prototxt -s 12 --compare measured_profile.json
  mvNCProfile frozen.pb -s 12 -in input -on MobilenetV1/Predictions/Reshape_1 \\
      -of reports/mobilenet
"""


def build_parser():
    p = network_parser("mvNCProfile", DESCRIPTION, EPILOG)
    p.add_argument("-o", dest="output", default="graph", metavar="FILE",
                   help="graph file to write (default: graph)")
    p.add_argument("-of", dest="report", default="output_report",
                   metavar="PREFIX",
                   help="report prefix: PREFIX.html, PREFIX.csv, PREFIX.json "
                        "(default: output_report); an existing directory or "
                        "a path ending in / gets profile.html, .csv, .json")
    p.add_argument("--compare", metavar="MEASURED",
                   help="a measured NCSDK profile (JSON as in "
                        "ncsdk/measurements/, or CSV with layer,time_ms): "
                        "print its time per layer beside the prediction")
    return p


def report_paths(prefix):
    """{"html": path, "csv": ..., "json": ...} for -of."""
    base = Path(prefix)
    if str(prefix).endswith(("/", os.sep)) or base.is_dir():
        base = base / "profile"
    return {k: base.parent / f"{base.name}.{k}" for k in ("html", "csv", "json")}


def profile_blob(blob, network=None):
    """The Profile of a graph file's bytes, timed by the emulated stick:
    its TIME_TAKEN after one inference of a zero input."""
    graph = load_graph(blob)
    zeros = np.zeros(graph.input_bytes // 2, np.float16)
    return build_profile(graph, run_once(blob, zeros, "profile")[1], network)


def compare(profile, measured, network):
    """Attach a loaded measured profile (names: NCSDK's for Caffe layers)."""
    aliases = None
    if str(network).lower().endswith(".prototxt"):
        from .costfit import caffe_stage_names
        aliases = caffe_stage_names(network)
    attach(profile, measured, aliases)


def _compile(args):
    from compiler.api import write_graph
    result = compile_from_args(args)
    write_graph(result, args.output)
    return result


def write_text(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv=None):
    args = build_parser().parse_args(argv)

    def body():
        measured = load_measured(args.compare) if args.compare else None
        result = _compile(args)
        profile = profile_blob(result.blob, Path(args.network).name)
        if measured is not None:
            compare(profile, measured, args.network)
        texts = report_texts(profile)
        paths = report_paths(args.report)
        for kind, path in paths.items():
            write_text(path, texts[kind])
        print(format_table(profile))
        if profile.comparison is not None:
            print()
            print(format_comparison(profile))
        print(f"Report: {paths['html']} (also {paths['csv'].name}, "
              f"{paths['json'].name}); graph file: {args.output}")
        return 0
    return run_command("mvNCProfile", body, MeasuredFileError)


if __name__ == "__main__":
    sys.exit(main())
