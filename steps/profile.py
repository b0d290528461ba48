"""Profile: a compiled graph timed on the emulated stick (mvNCProfile's report).

Writes profile.html, profile.csv and profile.json under `<net>/profile/`,
each atomically, then the stamp; the times are the stick's TIME_TAKEN.
"""
from steps.artifacts import remove_stamp, write_bytes, write_stamp

REPORTS = ("html", "csv", "json")


def profile_graph(graph_path, out_dir, network):
    """Profile the graph file at `graph_path`; return (Profile, paths)."""
    from ncsdk.profile import profile_blob
    from ncsdk.profile_report import report_texts

    profile = profile_blob(graph_path.read_bytes(), network)
    texts = report_texts(profile)
    paths = [out_dir / f"profile.{k}" for k in REPORTS]
    for kind, path in zip(REPORTS, paths):
        write_bytes(path, texts[kind].encode())
    return profile, paths


def profile_step(job):
    from steps.plan import profile_key

    p = job.paths
    remove_stamp(p.dir, "profile")
    profile, paths = profile_graph(p.graph, p.dir / "profile",
                                   job.entry.name)
    return write_stamp(p.dir, "profile", profile_key(job), paths,
                       {"total_ms": round(profile.total_ms, 6),
                        "shaves": profile.shaves})
