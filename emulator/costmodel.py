"""Per-stage time estimates (ms) for a Myriad 2, from a stage record alone.

The model is linear in its parameters: per stage,

    time = overhead + sum over terms of  coefficient * basis(stage)

where each basis is a count read off the stage record (FLOPs, values,
bytes) and each coefficient a cost per unit, in ms. ``TERMS`` says what
each term counts and why it exists; the coefficients live in
costmodel_params.json, written by ``python -m ncsdk.costfit fit`` from the
measured NCSDK profiles (ncsdk/measurements/; this module only reads the
file, so the emulator never needs the compiler). Terms the measurements do
not exercise are priors, listed under "priors" in that file.

SHAVE count: the measurements are all at 12 SHAVEs, so the count cannot be
fitted. Terms that run on the SHAVEs (``COMPUTE``) are slowed by Amdahl's
law with ``parallel_fraction`` (a prior: NCSDK users saw 12 SHAVEs 2-4x
faster than 1, with 4, 8 and 12 close together); memory and set-up terms
are not.

FLOPs: ``stage_flops`` is the real work; ``ncsdk_flops`` is what NCSDK's
profiler printed (its MFLOPs column), ``ncsdk_bytes`` what its bandwidth
column divided by the time.
"""
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from ncsformat import Op

PARAMS_FILE = Path(__file__).with_name("costmodel_params.json")
_MAX_SHAVES = 12
_POOLS = (Op.MAX_POOL, Op.AVG_POOL)
_VECTOR = 8       # fp16 lanes of a SHAVE's 128-bit vector unit

# term -> what its basis counts (units) and why it is there. Twelve
# coefficients, one per physical cost, shared by every network; each stage
# kind uses two or three of them.
TERMS = {
    "overhead": "1 per stage: launch, descriptors, DMA set-up",
    "conv_setup": "1 per convolution stage, on top of overhead: it loads "
                  "its weights and bias and sets up line buffers before the "
                  "first output (small convolutions, e.g. SSD's 1x1 to 3x3 "
                  "head layers, take 0.2-0.4 ms for almost no work)",
    "conv": "GFLOPs of convolutions, each kernel row (kw x Cin values, "
            "contiguous in the channel-minor layout) rounded up to whole "
            "8-lane vectors: a 3x3 row on RGB is 9 values in 16 lanes, "
            "which is why 3-channel 3x3 first layers run far below the "
            "rate of a 7x7 one (21 values in 24 lanes)",
    "conv_out": "million output values of a convolution: each is written "
                "back through DDR by its own DMA, which dominates 1x1 "
                "layers with few input channels (MobileNet-v2)",
    "weights": "MB of weights a convolution or fully connected stage "
               "streams from DDR (fp16): an FC uses each weight once, so "
               "it costs its weights (VGG16's fc1: 205 MB, 91 ms)",
    "depthwise": "MB read and written by a depthwise convolution: 9 MACs "
                 "per value leave nothing to reuse, so it is memory-bound",
    "deconv": "million scatters of a deconvolution: each (input pixel, "
              "kernel tap) adds into one output pixel in DDR, a read-"
              "modify-write of its output channels in whole 8-lane vectors "
              "(ceil(Cout/8) per tap), latency-bound: FCN-4s (2 channels, "
              "1 vector) and FCN-8s (21 channels, 3 vectors) both cost "
              "~37 ns per vector scatter",
    "pool": "million input values of a pooling stage: each is read once "
            "from DDR whatever the window (measured 2x2/2, 3x3/2, 3x3/1 "
            "and global pools cost 1.3-2.5 ns an input value, not a tap)",
    "lrn": "million values normalised by LRN",
    "softmax": "million values of a softmax: exp, sum and divide, ~0.2 us "
               "a value (1000 classes take ~0.2 ms whatever the net)",
    "eltwise": "million values read by sums, products, maxima and crops "
               "(a DDR stream)",
    "other": "million values read by any other stage (activations, scale, "
             "reshape, copy...): none was measured, so a prior",
}
# Terms that run on the SHAVEs' vector units and so scale with their count;
# the rest wait on DDR or on set-up.
COMPUTE = frozenset({"conv", "pool", "lrn", "softmax", "eltwise", "other"})
_ELTWISE = (Op.SUM, Op.PROD, Op.MAX, Op.CROP)


@dataclass(frozen=True)
class CostParams:
    """Coefficients (ms per basis unit, see TERMS) and shave scaling."""
    coef: dict = field(default_factory=dict)
    parallel_fraction: float = 0.8
    priors: tuple = ()            # terms not fitted (no measured stage)

    def with_(self, **changes):
        return replace(self, **changes)


def load_params(path=PARAMS_FILE):
    """CostParams from the fitted file (costmodel_params.json)."""
    doc = json.loads(Path(path).read_text())
    coef = {**doc["priors"], **doc["fitted"]}
    missing = set(TERMS) - set(coef)
    if missing:
        raise ValueError(f"{path}: no value for {sorted(missing)}")
    return CostParams(coef=coef, parallel_fraction=doc["parallel_fraction"],
                      priors=tuple(sorted(doc["priors"])))


DEFAULT = load_params()


def shave_scale(shaves, params=DEFAULT):
    """Compute throughput at `shaves` relative to all 12 (Amdahl's law)."""
    p = params.parallel_fraction

    def speedup(n):
        return 1.0 / ((1.0 - p) + p / n)
    n = min(max(int(shaves), 1), _MAX_SHAVES)
    return speedup(n) / speedup(_MAX_SHAVES)


# --- counts read off a stage record --------------------------------------

def _size(dims):
    return dims[0] * dims[1] * dims[2]


def _weights(st):
    """Weight values a stage reads (fp16), as NCSDK counted them."""
    c, oc = st.input_dims[2], st.output_dims[2]
    kw, kh = st.radix
    if st.op in (Op.CONV, Op.DECONV):
        return kw * kh * c * oc
    if st.op == Op.DEPTH_CONV:
        return kw * kh * oc
    if st.op == Op.FC:
        return _size(st.input_dims) * oc
    return 0


def stage_flops(st):
    """The real work of one stage in FLOPs, counted as NCSDK counted it
    (LRN 0, pooling per window tap), except that FC and deconvolution are
    their real work."""
    op = st.op
    w, h, c = st.input_dims
    out = _size(st.output_dims)
    kw, kh = st.radix
    if op == Op.CONV:
        return 2 * out * c * kh * kw
    if op == Op.DEPTH_CONV:
        return 2 * out * kh * kw      # out = Hout*Wout*C*multiplier
    if op == Op.DECONV:
        return 2 * w * h * c * st.output_dims[2] * kh * kw
    if op == Op.MAX_POOL:
        return out * kh * kw
    if op == Op.AVG_POOL:
        return 2 * out * kh * kw
    if op == Op.FC:
        return 2 * _size(st.input_dims) * st.output_dims[2]
    if op == Op.SOFTMAX:
        return 3 * out
    if op in (Op.LRN, Op.RESHAPE, Op.CROP):
        return 0
    return out                         # elementwise: one op per value


def ncsdk_flops(st, framework="caffe"):
    """FLOPs as NCSDK's profiler printed them (its MFLOPs column).

    Caffe deconvolutions print 0; a Caffe fully connected layer on a 1x1xC
    input prints 2*outputs (GoogLeNet's loss3/classifier: 0.002), one on a
    spatial input its real 2*inputs*outputs (tiny-yolo's fc9: 36.88), as
    do all TensorFlow ones (VGG16's fc1, MNIST's fc1); elementwise sums
    print 0 (the FCNs' fuse layers, MobileNet-v2's blocks); the rest as
    stage_flops."""
    caffe = "tensorflow" not in framework.lower()   # "TensorFlow (from Keras)"
    if (caffe and st.op == Op.DECONV) or st.op in (Op.SUM, Op.PROD, Op.MAX):
        return 0
    if caffe and st.op == Op.FC and tuple(st.input_dims[:2]) == (1, 1):
        return 2 * st.output_dims[2]
    return stage_flops(st)


def ncsdk_bytes(st):
    """Bytes NCSDK's bandwidth column counted (it printed bytes / time, in
    MiB/s): the input, times kh*kw for a convolution (each window read),
    plus the weights; not the output. Checked on every measured layer."""
    inputs = _size(st.input_dims)
    if st.op == Op.CONV:
        inputs *= st.radix[0] * st.radix[1]
    return 2 * (inputs + _weights(st))


def stage_bytes(st):
    """Bytes a stage moves through DDR: input, output and weights (fp16)."""
    inputs = _size(st.input_dims)
    if st.op in (Op.SUM, Op.PROD, Op.MAX):
        inputs *= 2
    return 2 * (inputs + _size(st.output_dims) + _weights(st))


def _conv_gflops(st):
    """FLOPs with each kernel row (kw x Cin values, contiguous in the
    channel-minor layout) rounded up to whole 8-lane vectors."""
    kw, kh = st.radix
    row = _VECTOR * math.ceil(kw * st.input_dims[2] / _VECTOR)
    return 2 * _size(st.output_dims) * row * kh / 1e9


def basis(st):
    """{term: count} of one stage (see TERMS); absent terms count 0."""
    op, out = st.op, _size(st.output_dims) / 1e6
    b = {"overhead": 1.0}
    kw, kh = st.radix
    if op == Op.CONV:
        b.update(conv_setup=1.0, conv=_conv_gflops(st), conv_out=out,
                 weights=2 * _weights(st) / 1e6)
    elif op == Op.FC:
        b["weights"] = 2 * _weights(st) / 1e6
    elif op == Op.DEPTH_CONV:
        b["depthwise"] = 2 * (_size(st.input_dims) / 1e6 + out)
    elif op == Op.DECONV:
        w, h, _ = st.input_dims
        vectors = math.ceil(st.output_dims[2] / _VECTOR)
        b["deconv"] = w * h * kw * kh * vectors / 1e6
    elif op in _POOLS:
        b["pool"] = _size(st.input_dims) / 1e6
    elif op in (Op.LRN, Op.SOFTMAX):
        b["lrn" if op == Op.LRN else "softmax"] = out
    else:
        read = stage_bytes(st) / 2e6 - out
        b["eltwise" if op in _ELTWISE else "other"] = read
    return b


def term_ms(st, shaves=12, params=DEFAULT):
    """{term: ms} of one stage at `shaves`."""
    slow = 1.0 / shave_scale(shaves, params)
    return {k: params.coef[k] * v * (slow if k in COMPUTE else 1.0)
            for k, v in basis(st).items()}


def stage_time_ms(st, shaves=12, params=DEFAULT):
    """Estimated device time of one stage in milliseconds."""
    return sum(term_ms(st, shaves, params).values())


def graph_times_ms(stages, shaves=12, params=DEFAULT):
    """Per-stage estimates, in file order."""
    return [stage_time_ms(st, shaves, params) for st in stages]
