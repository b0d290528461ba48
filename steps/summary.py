"""Print what a net's build produced: `python -m steps.summary NAME`."""
import json
import sys

from steps.plan import make_job


def summary(name):
    job = make_job(name)
    p = job.paths
    lines = [f"net:       {name}"]
    if p.manifest.exists():
        m = json.loads(p.manifest.read_text())
        lines += [f"weights:   {'SYNTHETIC (seeded, not the trained ones)' if m['synthetic'] else 'from ' + m['source']}",
                  f"graph:     {p.graph} ({m['graph']['size']:,} bytes, "
                  f"{m['settings']['shaves']} shaves, scratch {m['graph']['scratch_bytes']:,} bytes)",
                  f"manifest:  {p.manifest}"]
    check = p.check_dir / "check.json"
    if check.exists():
        c = json.loads(check.read_text())
        lines += ["", c["text"], "",
                  f"top-1 on the stick {c['top1_result']}, in TensorFlow {c['top1_expected']}: "
                  f"{'identical' if c['top1_identical'] else 'DIFFERENT'}",
                  f"predicted inference time at {job.shaves} shaves: {c['inference_ms']:.2f} ms",
                  f"check: {'PASS' if c['passed'] and c['top1_identical'] else 'FAIL'}"]
    else:
        lines.append("no check result yet: run the CheckModel task")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m steps.summary NAME", file=sys.stderr)
        return 2
    print(summary(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
