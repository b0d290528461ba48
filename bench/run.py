"""Benchmarks, measured side by side in one run (run by hand: make bench).

1. compile time of <name>_frozen.pb: our compiler vs TensorFlow Lite's converter
   (target: ours at least 5x faster), and the compiler process's wall time and
   peak RSS as `mvNCCompile` (target: peak RSS under 2.5x the frozen graph);
2. one inference: the emulated stick vs TensorFlow on the frozen graph
   (target: within 2x);
3. a no-op rerun of `luigi --module tasks CompileModel` (target: under 2 s).

Builds what it needs from a synthetic checkpoint under bench/out/ first.
`python bench/run.py --name inception_resnet_v2` for the largest net.
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


def best_of(fn, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


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
    ap.add_argument("--name", default="mobilenet_v1_0.5_160")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    env = dict(os.environ, ZOO_TO_STICK_ARTIFACTS=str(OUT))
    os.environ.update(env)
    print(f"building {args.name} (synthetic) under {OUT} ...", flush=True)
    luigi("CompileModel", args.name, env)

    from steps.plan import make_job
    job = make_job(args.name, "synthetic")
    frozen, entry = job.paths.frozen_pb, job.entry

    import compiler
    ours = best_of(lambda: compiler.compile_file(
        str(frozen), shaves=12, input_node=entry.input_node,
        output_node=entry.output_node), args.repeat)

    cli = compile_process(frozen, entry)

    from tfcompat import tf1
    def tflite():
        conv = tf1.lite.TFLiteConverter.from_frozen_graph(
            str(frozen), [entry.input_node], [entry.output_node])
        return conv.convert()
    lite = best_of(tflite, args.repeat)
    print(f"\n1. compile {frozen.name} ({frozen.stat().st_size:,} bytes), best of {args.repeat}")
    print(f"   ours {ours[0]*1000:8.1f} ms   TFLite converter {lite[0]*1000:8.1f} ms"
          f"   ratio TFLite/ours = {lite[0]/ours[0]:.1f}x (target >= 5x)")
    size = frozen.stat().st_size
    print(f"   mvNCCompile process: {cli[0]:.2f} s wall, peak RSS {cli[1]/2**20:.0f} MiB"
          f" = {cli[1]/size:.2f}x the frozen graph (target for Inception-ResNet v2: < 2.5x;"
          " small nets are dominated by the interpreter itself)")

    from steps.check import random_input
    from references.tensorflow import run_frozen
    from emulator import mvncapi as mvnc
    x16 = random_input((entry.image_size,) * 2 + (3,), entry.input_range, 0)
    blob = job.paths.graph.read_bytes()
    dev = mvnc.Device(mvnc.EnumerateDevices()[0]); dev.OpenDevice()
    graph = dev.AllocateGraph(blob)
    def emulated():
        graph.LoadTensor(x16, None); graph.GetResult()
    emu = best_of(emulated, args.repeat)
    graph.DeallocateGraph(); dev.CloseDevice()

    from tfcompat import tf, tf1
    gd = tf1.GraphDef(); gd.ParseFromString(frozen.read_bytes())
    with tf.Graph().as_default() as g:
        tf1.import_graph_def(gd, name="")
        sess = tf1.Session(graph=g)
        inp = g.get_tensor_by_name(entry.input_node + ":0")
        out = g.get_tensor_by_name(entry.output_node + ":0")
        feed = {inp: x16.astype(np.float32)[None]}
        sess.run(out, feed)  # warm-up
        tfr = best_of(lambda: sess.run(out, feed), args.repeat)
    print(f"\n2. one inference, {entry.image_size}x{entry.image_size}, best of {args.repeat}")
    print(f"   emulated stick {emu[0]*1000:8.1f} ms   TensorFlow {tfr[0]*1000:8.1f} ms"
          f"   ratio emulator/TF = {emu[0]/tfr[0]:.2f}x (target <= 2x)")
    print(f"   medians: emulated {emu[1]*1000:.1f} ms, TensorFlow {tfr[1]*1000:.1f} ms,"
          f" ratio {emu[1]/tfr[1]:.2f}x")

    noop = [luigi("CompileModel", args.name, env) for _ in range(3)]
    print(f"\n3. no-op rerun of luigi CompileModel: {min(noop):.2f} s best, "
          f"{max(noop):.2f} s worst of 3 (target < 2 s)")


if __name__ == "__main__":
    sys.exit(main())
