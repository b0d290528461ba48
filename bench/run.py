"""Benchmarks, measured side by side in one run (run by hand: make bench).

1. compile time of <name>_frozen.pb: our compiler vs TensorFlow Lite's converter
   (target: ours at least 5x faster), and the compiler process's wall time and
   peak RSS as `mvNCCompile` (target: peak RSS under 2.5x the frozen graph);
2. one inference: the emulated stick vs TensorFlow on the frozen graph,
   best and median of --runs each, interleaved run by run (both see the
   same machine load, but each evicts the other's weights from the caches)
   and then in blocks (each warm); target: within 1.5x for
   mobilenet_v1_1.0_224, 2x for others;
3. a no-op rerun of `luigi --module tasks CompileModel` (target: under 2 s).

Builds what it needs from a synthetic checkpoint under bench/out/ first.
`python bench/run.py --name mobilenet_v1_1.0_224` for the 1.5x target,
`--name inception_resnet_v2` for the largest net, `--only inference` to
skip the compile and Luigi measurements.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"


PARTS = ("compile", "inference", "noop")
TARGETS = {"mobilenet_v1_1.0_224": 1.5}     # emulator/TF; other nets: 2x


def best_of(fn, n):
    return interleaved([fn], n)[0]


def interleaved(fns, n, settle=0.0):
    """(best, median) seconds of each fn over n rounds; each round runs
    every fn once in turn, so a change of machine load hits all alike.
    ``settle`` seconds of sleep before each call let the previous one's
    thread pools go idle (OpenBLAS and TensorFlow workers spin a while
    after their work and would slow the other side)."""
    times = [[] for _ in fns]
    for _ in range(n):
        for spent, fn in zip(times, fns):
            time.sleep(settle)
            t = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - t)
    return [(min(t), statistics.median(t)) for t in times]


def compile_process(frozen, entry):
    """Wall time and peak RSS (bytes) of one `mvNCCompile` process.

    Measured by a fresh parent whose only child is the compiler, so no
    earlier (larger) child of this process can mask the figure.
    """
    out = OUT / "bench.graph"
    cmd = [str(REPO / ".venv" / "bin" / "mvNCCompile"), str(frozen), "-s", "12",
           "-in", entry.input_node, "-on", entry.output_node, "-o", str(out)]
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
             "print(time.perf_counter() - t, "
             "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    res = subprocess.run([sys.executable, "-c", probe, *cmd], check=True,
                         capture_output=True, text=True)
    wall, peak_kib = res.stdout.split()
    return float(wall), int(peak_kib) * 1024


def luigi(task, name, env):
    cmd = [str(REPO / ".venv" / "bin" / "luigi"), "--module", "tasks", task,
           "--name", name, "--source", "synthetic", "--log-level", "WARNING"]
    t = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", default="mobilenet_v1_0.5_160",
                    help="catalogue net to build and measure")
    ap.add_argument("--repeat", type=int, default=5,
                    help="compile timings: best of this many")
    ap.add_argument("--runs", type=int, default=21,
                    help="inference timings: rounds of one emulated and one "
                         "TensorFlow inference")
    ap.add_argument("--target", type=float, default=None,
                    help="emulator/TF inference ratio to meet "
                         "(default 1.5 for mobilenet_v1_1.0_224, else 2)")
    ap.add_argument("--settle", type=float, default=0.0,
                    help="seconds of idle before each timed inference")
    ap.add_argument("--only", nargs="+", choices=PARTS, default=PARTS,
                    help="measure only these parts")
    args = ap.parse_args()
    if args.repeat < 1 or args.runs < 1:
        ap.error("--repeat and --runs must be at least 1")
    target = args.target or TARGETS.get(args.name, 2.0)
    env = dict(os.environ, ZOO_TO_STICK_ARTIFACTS=str(OUT))
    os.environ.update(env)
    print(f"building {args.name} (synthetic) under {OUT} ...", flush=True)
    luigi("CompileModel", args.name, env)

    from steps.plan import make_job
    job = make_job(args.name, "synthetic")
    if "compile" in args.only:
        compile_times(job, args.repeat)
    if "inference" in args.only:
        inference(job, args.runs, target, args.settle)
    if "noop" in args.only:
        noop = [luigi("CompileModel", args.name, env) for _ in range(3)]
        print(f"\n3. no-op rerun of luigi CompileModel: {min(noop):.2f} s best, "
              f"{max(noop):.2f} s worst of 3 (target < 2 s)")


def compile_times(job, repeat):
    frozen, entry = job.paths.frozen_pb, job.entry
    import compiler
    ours = best_of(lambda: compiler.compile_file(
        str(frozen), shaves=12, input_node=entry.input_node,
        output_node=entry.output_node), repeat)

    cli = compile_process(frozen, entry)

    from tfcompat import tf1
    def tflite():
        conv = tf1.lite.TFLiteConverter.from_frozen_graph(
            str(frozen), [entry.input_node], [entry.output_node])
        return conv.convert()
    lite = best_of(tflite, repeat)
    print(f"\n1. compile {frozen.name} ({frozen.stat().st_size:,} bytes), best of {repeat}")
    print(f"   ours {ours[0]*1000:8.1f} ms   TFLite converter {lite[0]*1000:8.1f} ms"
          f"   ratio TFLite/ours = {lite[0]/ours[0]:.1f}x (target >= 5x)")
    size = frozen.stat().st_size
    print(f"   mvNCCompile process: {cli[0]:.2f} s wall, peak RSS {cli[1]/2**20:.0f} MiB"
          f" = {cli[1]/size:.2f}x the frozen graph (target for Inception-ResNet v2: < 2.5x;"
          " small nets are dominated by the interpreter itself)")


def inference(job, runs, target, settle):
    """One inference, emulated stick vs TensorFlow: interleaved (both under
    the same load), then in blocks (each with the caches to itself)."""
    frozen, entry = job.paths.frozen_pb, job.entry
    from steps.check import random_input
    from emulator import mvncapi as mvnc
    x16 = random_input((entry.image_size,) * 2 + (3,), entry.input_range, 0)
    dev = mvnc.Device(mvnc.EnumerateDevices()[0]); dev.OpenDevice()
    graph = dev.AllocateGraph(job.paths.graph.read_bytes())
    def emulated():
        graph.LoadTensor(x16, None); graph.GetResult()

    from tfcompat import tf, tf1
    gd = tf1.GraphDef(); gd.ParseFromString(frozen.read_bytes())
    with tf.Graph().as_default() as g:
        tf1.import_graph_def(gd, name="")
        sess = tf1.Session(graph=g)
        inp = g.get_tensor_by_name(entry.input_node + ":0")
        out = g.get_tensor_by_name(entry.output_node + ":0")
        feed = {inp: x16.astype(np.float32)[None]}
        def tensorflow():
            sess.run(out, feed)
        emulated(); tensorflow()     # warm-up
        mixed = interleaved([emulated, tensorflow], runs, settle)
        blocks = [interleaved([fn], runs, settle)[0]
                  for fn in (emulated, tensorflow)]
        sess.close()
    graph.DeallocateGraph(); dev.CloseDevice()
    size = entry.image_size
    print(f"\n2. one inference of {job.paths.name} ({size}x{size}), {runs} "
          f"runs each, {settle:g} s apart; target emulator/TF <= {target:g}x")
    print(f"   emulated stick: {_loops()}")
    for how, (emu, tfr) in (("interleaved", mixed), ("in blocks", blocks)):
        for i, what in enumerate(("best", "median")):
            ratio = emu[i] / tfr[i]
            verdict = "meets" if ratio <= target else "MISSES"
            print(f"   {how:11s} {what:6s}: emulated stick {emu[i]*1000:7.1f} ms"
                  f"   TensorFlow {tfr[i]*1000:7.1f} ms   ratio {ratio:.2f}x"
                  f" ({verdict} the target)")


def _loops():
    """Which kernels the emulated stick ran (MVNC_EMULATOR_NATIVE, F16C)."""
    from emulator.ops import native
    c_loops = native.loops()
    if c_loops is None:
        why = "not built" if not native.built() else "MVNC_EMULATOR_NATIVE=0"
        return f"numpy kernels only (C loops {why})"
    rounding = "F16C" if c_loops.F16C else "portable C"
    return f"C loops (emulator/ops/_native.c), fp16 rounding by {rounding}"


if __name__ == "__main__":
    sys.exit(main())
