"""The corpus table: ``python -m tests.corpus.report [--names a,b] [--keep DIR]``.

For every net: its idioms, the stage count of the compiled .pb, mvNCCheck's
metrics of the stick against TensorFlow (max / mean / RMS error in percent
of max|expected|, Pass/Fail) for the .pb, and whether the .meta compiles to
the same graph file (or the error line where a file fails to compile).
"""
import argparse
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from . import harness, nets


def commit():
    """The git commit this ran on, '+dirty' when the tree has changes."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                              cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain",
                                "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def metric_cells(outcome):
    if outcome.error:
        return ["-", "-", "-", "-"]
    m = outcome.metrics
    return [f"{m['max_error']['value']:.3f}", f"{m['mean_error']['value']:.3f}",
            f"{m['rms_error']['value']:.3f}",
            "Pass" if m["passed"] else "Fail"]


def meta_cell(pb, meta):
    if meta.error:
        return "error (below)" if meta.error != pb.error else "same error"
    if pb.error:
        return "compiles: " + ("Pass" if meta.passed else "Fail")
    if meta.result.blob == pb.result.blob:
        return "same graph file"
    return "differs, " + ("Pass" if meta.passed else "Fail")


def rows(built_all):
    out = []
    for name, built in built_all.items():
        pb = harness.check(built, "pb")
        meta = harness.check(built, "meta")
        stages = str(pb.result.stage_count) if pb.result else "-"
        out.append((name, built, pb, meta,
                    [name, "; ".join(built.idioms), stages,
                     *metric_cells(pb), meta_cell(pb, meta)]))
    return out


def table(lines):
    head = ["network", "idioms", "stages", "max err %", "mean err %",
            "RMS err %", "mvNCCheck (.pb)", ".meta"]
    text = ["| " + " | ".join(head) + " |",
            "|" + "|".join("---" for _ in head) + "|"]
    text += ["| " + " | ".join(cells) + " |" for cells in lines]
    return "\n".join(text)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tests.corpus.report",
                                description=__doc__.splitlines()[0])
    p.add_argument("--names", help="comma list of nets (default: all)")
    p.add_argument("--keep", metavar="DIR",
                   help="write the .pb/.meta files here (default: a "
                        "temporary directory, removed)")
    args = p.parse_args(argv)
    fns = nets.NETS
    if args.names:
        fns = [nets.by_name(n) for n in args.names.split(",")]
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="corpus.") as tmp:
        root = args.keep or tmp
        results = rows(harness.build_all(root, fns))
    print(f"Corpus: {len(results)} networks, compiled with -s "
          f"{harness.SHAVES}, commit {commit()}\n")
    print(table([r[4] for r in results]))
    failures = [(name, kind, o.error) for name, _, pb, meta, _ in results
                for kind, o in (("pb", pb), ("meta", meta)) if o.error]
    fails = [(name, o) for name, _, pb, _, _ in results for o in (pb,)
             if not o.error and not o.passed]
    warned = [(name, w) for name, _, pb, _, _ in results
              for w in pb.warnings]
    unknown = [n for n, w in warned if "batch unknown" in w]
    warned = [(n, w) for n, w in warned if "batch unknown" not in w]
    passed = sum(1 for r in results if r[2].passed and r[3].passed)
    print(f"\n{passed} of {len(results)} pass from both .pb and .meta.")
    if failures:
        print("\nDo not compile or run:")
        for name, kind, error in failures:
            print(f"  {name} (.{kind}): {error}")
    if fails:
        print("\nCompile but fail mvNCCheck's limits:")
        for name, o in fails:
            print(f"  {name}: " + ", ".join(
                f"{o.metrics[k]['label']} {o.metrics[k]['value']:.3f}%"
                for k in ("max_error", "mean_error", "wrong_share",
                          "rms_error")))
    if warned or unknown:
        print("\nCompiler warnings (.pb):")
        for name, w in warned:
            print(f"  {name}: {w}")
        if unknown:
            print(f"  {len(unknown)} nets: batch unknown compiled as batch 1")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
