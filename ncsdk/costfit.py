"""Fit the emulator's cost model to the measured NCS profiles.

    python -m ncsdk.costfit fit [--refresh]   # fit, write the params file
    python -m ncsdk.costfit report            # the fit's table, no writing
    python -m ncsdk.costfit zoo ARTIFACTS     # predicted ms of built graphs

Why here: fitting compiles the measured networks, and the emulator must not
import the compiler; so this module sits above both. It reads the measured
profiles in ncsdk/measurements/ (see its README), compiles each network
once, matches our stages to the measured layers by NCSDK's stage names and
caches each matched stage's geometry in ncsdk/measurements/features.json
(--refresh rebuilds it; the tests re-fit from it in a second). The fitted
parameters go to emulator/costmodel_params.json, which the emulator loads.

Fit: the model is linear in its parameters (emulator.costmodel.basis), so
they come from a non-negative least squares on relative per-layer errors,
plus one row per network for its total (weighted TOTAL_WEIGHT), every
network weighted alike whatever its layer count. Reproducible: no random
start, no iteration limit that could stop early.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

import ncsformat as nf
from emulator import costmodel as cm

HERE = Path(__file__).resolve().parent / "measurements"
FEATURES = HERE / "features.json"
PARAMS = cm.PARAMS_FILE
TOTAL_WEIGHT = 3.0

# key: (measured file or files, how to build): ("caffe", prototxt, output node)
# or ("tf", builder name, output node); see measurements/README.md.
NETWORKS = {
    "googlenet": ("googlenet_bvlc_ncsdkdoc_12shv.json",
                  ("caffe", "googlenet_deploy.prototxt", None)),
    "squeezenet_v1.1": ("squeezenet_v1.1_k8s_12shv.json",
                        ("caffe", "squeezenet_v1.1_deploy.prototxt", None)),
    "tiny_yolo_v1": ("tinyyolov1_akolluru_12shv.json",
                     ("caffe", "tiny_yolo_v1.prototxt", None)),
    "mobilenet_ssd": ("mobilenetssd_voc_beloborodov_12shv.json",
                      ("caffe", "mobilenet_ssd_voc_deploy.prototxt",
                       "conv17_2")),
    "fcn8s_inception": ("fcn_inception_fcn8s_21cls_pesong_12shv.json",
                        ("caffe", "fcn_inception_fcn8s_21cls_deploy.prototxt",
                         "upscore8")),
    "fcn4s_mobilenetv2": ("fcn_mobilenetv2_fcn4s_2cls_pesong_12shv.json",
                          ("caffe",
                           "fcn_mobilenetv2_fcn4s_2cls_deploy.prototxt",
                           "upscore16")),
    "vgg16_keras": (("vgg16_keras_tf_readmeA_12shv.json",
                     "vgg16_keras_tf_readmeB_12shv.json"),
                    ("tf", "vgg16", "predictions/Softmax")),
    "mnist_deep": ("mnist_tf_deep_4rshdeep_12shv.json",
                   ("tf", "mnist_deep", "output")),
}

# Caffe layers NCSDK fused into the stage before them (names: see
# caffe_stage_names).
_FUSED = {"BatchNorm", "Scale", "ReLU", "PReLU", "Bias", "ELU", "Dropout"}


def load_measured(files):
    """{"total_ms", "framework", "layers": [(name, ms, mflops, mbps)]} of
    one measured file, or the per-layer mean of several runs of the same
    network (VGG16 was profiled twice: one network, its two runs averaged,
    so it weighs in the fit as one network)."""
    files = [files] if isinstance(files, str) else list(files)
    docs = [json.loads((HERE / f).read_text()) for f in files]
    runs = [{l["name"]: l for l in d["layers"]} for d in docs]
    if any(r.keys() != runs[0].keys() for r in runs):
        raise ValueError(f"{files}: the runs list different layers")

    def mean(name, field):
        return sum(r[name][field] for r in runs) / len(runs)
    return {"total_ms": sum(d["total_ms"] for d in docs) / len(docs),
            "framework": docs[0]["framework"],
            "layers": [(l["name"], mean(l["name"], "ms"),
                        l["mflops"], mean(l["name"], "mbps"))
                       for l in docs[0]["layers"]]}


# --- NCSDK's names ----------------------------------------------------------

def _chain(layers, start):
    """The fused layers after layer `start` (in-place or sole consumer)."""
    chain, top = [], start.top[0] if start.top else start.name
    for layer in layers[layers.index(start) + 1:]:
        if layer.type in _FUSED and layer.bottom == [top]:
            consumers = [l for l in layers if top in l.bottom]
            if layer.top == [top] or len(consumers) == 1:
                chain.append(layer)
                top = layer.top[0]
    return chain, top


def caffe_stage_names(prototxt):
    """{layer name: names NCSDK may have printed for its stage}.

    NCSDK named a stage after the top of the last layer fused into it
    (conv1 -> conv1/bn -> in-place scale and ReLU: "conv1/bn"); when the
    chain ends in an in-place layer other than ReLU it printed the tops and
    that layer's name joined by "/" (MobileNet-v2's "conv2_1/linear/
    conv2_1/linear/bn/conv2_1/linear/scale")."""
    from compiler.frontends import caffe
    net = caffe.caffe_proto.parse_text(Path(prototxt).read_text())
    layers = caffe.layers_of(net)
    names = {}
    for layer in layers:
        chain, top = _chain(layers, layer)
        tops = [layer.top[0] if layer.top else layer.name]
        for fused in chain:
            if fused.top[0] != tops[-1]:
                tops.append(fused.top[0])
        joined = "/".join(tops + [chain[-1].name]) if chain else None
        names[layer.name] = [n for n in (top, joined, layer.name) if n]
    return names


# --- compiling and matching --------------------------------------------------

def compile_stages(build, workdir):
    """The stage records of one measured network, compiled for 12 shaves."""
    from compiler.api import compile_file
    kind, what, output = build
    if kind == "caffe":
        path = HERE / "nets" / what
    else:
        from ncsdk import costfit_tf
        path = costfit_tf.build(what, Path(workdir))
    return compile_file(str(path), shaves=12, output_node=output).stages


def stage_record(st):
    """What the cost model reads of a stage record, as JSON."""
    return {"op": nf.Op(st.op).name, "input_dims": list(st.input_dims),
            "output_dims": list(st.output_dims), "tap_dims": list(st.tap_dims),
            "radix": list(st.radix), "stride": list(st.stride),
            "bias": bool(st.bias.index)}


def to_stage(rec, name=""):
    """A Stage carrying just what stage_record kept."""
    return nf.Stage(name=name, op=nf.Op[rec["op"]], radix=tuple(rec["radix"]),
                    stride=tuple(rec["stride"]),
                    input_dims=tuple(rec["input_dims"]),
                    tap_dims=tuple(rec["tap_dims"]),
                    output_dims=tuple(rec["output_dims"]),
                    bias=nf.Operand(nf.Region.DATA, 0) if rec["bias"]
                    else None)


def match(stages, measured, aliases=None):
    """(matched rows, our unmatched names, measured unmatched names).

    A stage matches the measured layer whose name is one of its names
    (aliases: {our name: candidates}, else its own name)."""
    by_name = {m[0]: m for m in measured}
    rows, ours, used = [], [], set()
    for st in stages:
        cands = (aliases or {}).get(st.name, [st.name])
        hit = next((c for c in cands if c in by_name and c not in used), None)
        if hit is None:
            ours.append(st.name)
            continue
        used.add(hit)
        m = by_name[hit]
        rows.append({"name": st.name, "ncsdk_name": hit, "measured_ms": m[1],
                     "ncsdk_mflops": m[2], "ncsdk_mbps": m[3],
                     **stage_record(st)})
    theirs = [m[0] for m in measured if m[0] not in used]
    return rows, ours, theirs


def network_features(key, workdir="/tmp"):
    """One network's cache entry: matched stages, unmatched names, totals."""
    file, build = NETWORKS[key]
    meas = load_measured(file)
    stages = compile_stages(build, workdir)
    aliases = None
    if build[0] == "caffe":
        aliases = caffe_stage_names(HERE / "nets" / build[1])
    rows, ours, theirs = match(stages, meas["layers"], aliases)
    return {"measured_file": file, "framework": meas["framework"],
            "measured_total_ms": meas["total_ms"], "stages": rows,
            "unmatched_ours": ours, "unmatched_measured": theirs}


def refresh(keys=None, workdir="/tmp", log=print):
    """Recompile the networks (all by default); those that fail to compile
    are left out with the reason, so they join once the compiler can."""
    out = {"networks": {}, "skipped": {}}
    for key in keys or NETWORKS:
        try:
            out["networks"][key] = network_features(key, workdir)
        except Exception as exc:       # noqa: BLE001 - reported, not hidden
            out["skipped"][key] = f"{type(exc).__name__}: {exc}"[:300]
            log(f"{key}: not compiled ({out['skipped'][key]})")
    return out


# --- fitting ----------------------------------------------------------------

# Terms no measured stage exercises keep these values (ms per basis unit,
# see emulator.costmodel.TERMS): "other" (activations, scale, bias, copies
# as stages of their own) streams each value through DDR once, like the
# measured sums and crops, so it takes their rate, 0.8 ms per million
# values read (the eltwise fit: 0.80).
PRIORS = {"other": 0.8}
PARALLEL_FRACTION = 0.8     # not fittable at 12 SHAVEs: see costmodel


def nnls(a, b, tol=1e-12):
    """min |a x - b| with x >= 0 (Lawson and Hanson's active set); exact
    and deterministic, so the fit is reproducible."""
    n = a.shape[1]
    x, free = np.zeros(n), np.zeros(n, bool)
    for _ in range(3 * n):
        grad = a.T @ (b - a @ x)
        if free.all() or (grad[~free] <= tol).all():
            break
        free[np.argmax(np.where(free, -np.inf, grad))] = True
        while True:
            z = np.zeros(n)
            z[free] = np.linalg.lstsq(a[:, free], b, rcond=None)[0]
            if (z[free] > tol).all():
                x = z
                break
            neg = free & (z <= tol)
            step = np.min(x[neg] / (x[neg] - z[neg]))
            x = x + step * (z - x)
            free &= x > tol
            x[~free] = 0.0
    return x


def _floor(ms):
    """Measured times are printed to 0.01 ms: relative errors below
    0.02 ms mean nothing."""
    return np.maximum(np.asarray(ms, float), 0.02)


def design(stages):
    """(basis matrix rows = stages, columns = costmodel.TERMS order)."""
    terms = list(cm.TERMS)
    rows = [cm.basis(st) for st in stages]
    return np.array([[b.get(t, 0.0) for t in terms] for b in rows])


def network_arrays(cache):
    """{key: (basis matrix, measured ms, stages)} of the cached networks."""
    out = {}
    for key, net in cache["networks"].items():
        stages = [to_stage(r, r["name"]) for r in net["stages"]]
        out[key] = (design(stages), np.array([r["measured_ms"]
                                              for r in net["stages"]]),
                    stages)
    return out


def fit(arrays, keys=None):
    """CostParams fitted to the networks `keys` (all by default).

    Each network contributes its per-stage relative errors, scaled by
    1/sqrt(stages) so every network weighs alike, and its total's relative
    error weighted TOTAL_WEIGHT. Terms no stage of these networks uses and
    the PRIORS keep their priors."""
    keys = list(keys or arrays)
    terms = list(cm.TERMS)
    fixed = np.array([t in PRIORS for t in terms])
    a_rows, y = [], []
    for key in keys:
        a, t, _ = arrays[key]
        prior_ms = a[:, fixed] @ np.array([PRIORS[t] for t in
                                           np.array(terms)[fixed]])
        w = 1.0 / np.sqrt(len(t))
        a_rows.append(a[:, ~fixed] / _floor(t)[:, None] * w)
        y.append((1.0 - prior_ms / _floor(t)) * w)
        a_rows.append(TOTAL_WEIGHT * a[:, ~fixed].sum(0, keepdims=True)
                      / t.sum())
        y.append([TOTAL_WEIGHT * (1.0 - prior_ms.sum() / t.sum())])
    x = nnls(np.vstack(a_rows), np.concatenate(y))
    coef = dict(PRIORS)
    coef.update(zip(np.array(terms)[~fixed], x))
    return cm.CostParams(coef=coef, parallel_fraction=PARALLEL_FRACTION,
                         priors=tuple(sorted(PRIORS)))


def predict(arrays, key, params):
    a, _, _ = arrays[key]
    return a @ np.array([params.coef[t] for t in cm.TERMS])


def evaluate(arrays):
    """Per network: measured total, in-sample and leave-one-out predicted
    totals, median per-layer error (in-sample and left out)."""
    params = fit(arrays)
    table = {}
    for key, (_, t, _) in arrays.items():
        pin = predict(arrays, key, params)
        loo = predict(arrays, key, fit(arrays, [k for k in arrays if k != key]))
        table[key] = {
            "measured_ms": float(t.sum()), "fitted_ms": float(pin.sum()),
            "loo_ms": float(loo.sum()),
            "median_layer_error": float(np.median(np.abs(pin - t) / _floor(t))),
            "loo_median_layer_error": float(np.median(np.abs(loo - t)
                                                      / _floor(t)))}
    return params, table


def informed_by(arrays):
    """{term: networks with a stage that uses it}: a term only one network
    informs cannot be checked by leaving that network out."""
    terms = list(cm.TERMS)
    return {t: sorted(k for k, (a, _, _) in arrays.items()
                      if a[:, terms.index(t)].any()) for t in terms}


def params_document(params, table, cache):
    """What emulator/costmodel_params.json holds."""
    fitted = {k: round(float(v), 6) for k, v in params.coef.items()
              if k not in PRIORS}
    return {"about": "Fitted by `python -m ncsdk.costfit fit` from "
                     "ncsdk/measurements/ (NCSDK 1.x profiles at 12 SHAVEs); "
                     "ms per basis unit, see emulator/costmodel.py TERMS.",
            "fitted": fitted, "priors": dict(PRIORS),
            "parallel_fraction": PARALLEL_FRACTION,
            "networks": sorted(cache["networks"]),
            "not_compiled": cache.get("skipped", {}),
            "fit": {k: {m: round(v, 4) for m, v in row.items()}
                    for k, row in table.items()}}


def format_table(table):
    lines = [f"{'network':<20}{'measured':>10}{'fitted':>10}{'err':>8}"
             f"{'left out':>10}{'err':>8}{'median layer err':>18}"]
    for key, r in table.items():
        m = r["measured_ms"]
        lines.append(
            f"{key:<20}{m:>10.2f}{r['fitted_ms']:>10.2f}"
            f"{100 * (r['fitted_ms'] / m - 1):>+7.1f}%{r['loo_ms']:>10.2f}"
            f"{100 * (r['loo_ms'] / m - 1):>+7.1f}%"
            f"{100 * r['median_layer_error']:>17.1f}%")
    return "\n".join(lines)


def zoo_times(root, shaves=12, params=None):
    """{net: predicted ms} of every graph file ROOT/NAME/NAME.graph (the
    zoo's compile step's layout), summed over its stages at `shaves`."""
    from emulator.reader import load_graph
    out = {}
    for graph in sorted(Path(root).glob("*/*.graph")):
        stages = load_graph(graph.read_bytes()).stages
        out[graph.stem] = sum(cm.graph_times_ms(stages, shaves,
                                                params or cm.DEFAULT))
    return out


def load_cache(path=FEATURES):
    return json.loads(Path(path).read_text())


def write_json(path, doc):
    Path(path).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m ncsdk.costfit",
        description="Fit the emulator's cost model to the measured NCS "
                    "profiles in ncsdk/measurements/.")
    p.add_argument("command", choices=("fit", "report", "zoo"),
                   help="fit: write emulator/costmodel_params.json; "
                        "report: print the fit only; zoo: print the "
                        "predicted time of each graph under ARTIFACTS")
    p.add_argument("artifacts", nargs="?",
                   help="zoo: the artifact root (NAME/NAME.graph files)")
    p.add_argument("-s", "--shaves", type=int, default=12,
                   help="zoo: SHAVE count to predict at (default 12)")
    p.add_argument("--refresh", action="store_true",
                   help="recompile the networks and rewrite features.json "
                        "first (VGG16 takes a minute and ~600 MB)")
    args = p.parse_args(argv)
    if args.command == "zoo":
        if not args.artifacts:
            p.error("zoo needs the artifact root")
        times = zoo_times(args.artifacts, args.shaves)
        for name, ms in times.items():
            print(f"{name:<28}{ms:>10.1f} ms")
        return 0 if times else 1
    if args.refresh:
        write_json(FEATURES, refresh(log=lambda m: print(m, file=sys.stderr)))
    try:
        cache = load_cache()
    except (OSError, ValueError) as exc:
        print(f"costfit: {FEATURES}: {exc}", file=sys.stderr)
        return 2
    arrays = network_arrays(cache)
    params, table = evaluate(arrays)
    print(format_table(table))
    users = informed_by(arrays)
    for k in cm.TERMS:
        tag = " (prior)" if k in PRIORS else ""
        print(f"  {k:<12}{params.coef[k]:>12.6f}{tag}  "
              f"{len(users[k])} nets: {', '.join(users[k])}")
    for key, why in cache.get("skipped", {}).items():
        print(f"  not compiled: {key}: {why}")
    if args.command == "fit":
        write_json(PARAMS, params_document(params, table, cache))
        print(f"wrote {PARAMS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
