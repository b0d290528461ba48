"""Per-stage time estimates (ms) for a Myriad 2, from a stage record alone.

The model, per stage, at ``shaves`` SHAVEs::

    time = overhead
         + work FLOPs / (peak * efficiency[class] * shave_scale(shaves))
         + bytes moved / DDR bandwidth

- overhead: fixed cost of launching a stage (descriptors, DMA set-up);
- compute: the real work at a share of the 12-SHAVE fp16 peak that depends
  on the kind of stage (``op_class``); only this part scales with shaves;
- memory: input, output and weights through DDR once (``stage_bytes``).

Overhead, bandwidth and the conv / 1x1-conv / pooling / FC efficiencies are
fitted (``fit_params``) to NCSDK's measured profile of Caffe GoogLeNet at
12 shaves (tests/data/googlenet_caffe_12shaves_profile.csv, 88.66 ms); the
other classes are not in that net and keep stated priors. The shave count
cannot be fitted from a 12-shave table: ``parallel_fraction`` is set so
GoogLeNet shows what NCSDK users measured (12 shaves ~3x faster than 1;
4, 8 and 12 close together).

FLOPs: ``ncsdk_flops`` is what NCSDK's profiler printed (its fully connected
count is 2*outputs); ``stage_flops`` is the real work, which is what takes
time. The two differ only for fully connected stages.
"""
from dataclasses import dataclass, field, replace

import numpy as np

from ncsformat import Op

_MAX_SHAVES = 12
_POOLS = (Op.MAX_POOL, Op.AVG_POOL)


def op_class(st):
    """Which efficiency a stage runs at: kxk and 1x1 convolutions differ
    on the Myriad (1x1 is a plain matrix product, kxk needs window copies)."""
    op = st.op
    if op == Op.CONV:
        return "conv1x1" if tuple(st.radix) == (1, 1) else "conv"
    if op in _POOLS:
        return "pool"
    return {Op.DEPTH_CONV: "depthwise", Op.DECONV: "deconv",
            Op.FC: "fc"}.get(op, "other")


def _efficiencies():
    """Share of the 12-SHAVE peak each class reaches (see DEFAULT)."""
    return {
        "conv": 0.4680,       # fitted: ~47 GFLOPS on kxk convolutions
        "conv1x1": 0.6333,    # fitted: ~63 GFLOPS on 1x1 convolutions
        "pool": 1.0,          # fitted, at the cap: pooling is memory-bound
        "fc": 1.0,            # fitted, at the cap: FC is weight-load-bound
        "depthwise": 0.15,    # prior: little reuse per loaded value
        "deconv": 0.35,       # prior: scattered accumulation
        "other": 0.05,        # prior: softmax, elementwise, LRN's zero count
    }


@dataclass(frozen=True)
class CostParams:
    """The cost model's parameters; see DEFAULT for the values and units."""
    shave_mhz: float             # SHAVE clock (documentation)
    peak_gflops_12: float        # fp16 peak of all 12 SHAVEs
    parallel_fraction: float     # Amdahl share of the compute that scales
    ddr_gbytes_s: float          # effective DDR bandwidth, GB/s
    overhead_ms: float           # fixed cost per stage
    efficiency: dict = field(default_factory=_efficiencies)

    def with_(self, **changes):
        return replace(self, **changes)

    def eff(self, cls):
        return self.efficiency.get(cls, self.efficiency["other"])


# overhead_ms, ddr_gbytes_s and efficiency conv/conv1x1/pool/fc: fit_params on
# the measured Caffe GoogLeNet profile at 12 shaves (NCSDK 1.x docs), stage
# records from compiling tests/data/googlenet_deploy.prototxt with our
# compiler; tests/test_costmodel_fit.py re-runs the fit and checks these.
DEFAULT = CostParams(
    shave_mhz=600.0,
    peak_gflops_12=100.0,      # NCSDK: ~100 GFLOPS fp16 at 600 MHz
    parallel_fraction=0.8,     # GoogLeNet: 1 shave ~2.7x slower than 12
    ddr_gbytes_s=2.5253,
    overhead_ms=0.1245,
)


def shave_scale(shaves, params=DEFAULT):
    """Compute throughput at `shaves` relative to all 12 (Amdahl's law)."""
    p = params.parallel_fraction

    def speedup(n):
        return 1.0 / ((1.0 - p) + p / n)
    n = min(max(int(shaves), 1), _MAX_SHAVES)
    return speedup(n) / speedup(_MAX_SHAVES)


def ncsdk_flops(st):
    """FLOPs as NCSDK's profiler printed them (its MFLOPs column)."""
    if st.op == Op.FC:
        return 2 * st.output_dims[2]      # NCSDK's quirk: 2 * outputs
    return stage_flops(st)


def stage_flops(st):
    """The real work of one stage in FLOPs, counted as NCSDK counted it
    (LRN 0, pooling per window tap), except that FC is its real work."""
    op = st.op
    w, h, c = st.input_dims
    ow, oh, oc = st.output_dims
    kw, kh = st.radix
    out = ow * oh * oc
    if op == Op.CONV:
        return 2 * out * c * kh * kw
    if op == Op.DEPTH_CONV:
        return 2 * out * kh * kw      # out = Hout*Wout*C*multiplier
    if op == Op.DECONV:
        return 2 * w * h * c * oc * kh * kw
    if op == Op.MAX_POOL:
        return out * kh * kw
    if op == Op.AVG_POOL:
        return 2 * out * kh * kw
    if op == Op.FC:
        return 2 * w * h * c * oc
    if op == Op.SOFTMAX:
        return 3 * out
    if op in (Op.LRN, Op.RESHAPE, Op.CROP):
        return 0
    return out                         # elementwise: one op per value


def stage_bytes(st):
    """Bytes a stage moves through DDR: input, output and weights (fp16)."""
    w, h, c = st.input_dims
    ow, oh, oc = st.output_dims
    kw, kh = st.radix
    inputs = w * h * c
    if st.op in (Op.SUM, Op.PROD, Op.MAX):
        inputs *= 2
    weights = 0
    if st.op in (Op.CONV, Op.DECONV):
        weights = kw * kh * c * oc
    elif st.op == Op.DEPTH_CONV:
        weights = kw * kh * oc
    elif st.op == Op.FC:
        weights = w * h * c * oc
    elif st.op in (Op.PRELU, Op.SCALE):
        weights = c
    if st.bias.index and st.op != Op.LRN:
        weights += oc
    return 2 * (inputs + ow * oh * oc + weights)


def compute_ms(st, shaves=12, params=DEFAULT):
    """The compute term: real FLOPs at the class's share of the peak."""
    rate = (params.peak_gflops_12 * 1e9 * params.eff(op_class(st))
            * shave_scale(shaves, params))
    return 1e3 * stage_flops(st) / rate


def memory_ms(st, params=DEFAULT):
    return 1e3 * stage_bytes(st) / (params.ddr_gbytes_s * 1e9)


def stage_time_ms(st, shaves=12, params=DEFAULT):
    """Estimated device time of one stage in milliseconds."""
    return (params.overhead_ms + compute_ms(st, shaves, params)
            + memory_ms(st, params))


def graph_times_ms(stages, shaves=12, params=DEFAULT):
    """Per-stage estimates, in file order."""
    return [stage_time_ms(st, shaves, params) for st in stages]


# --- fitting -------------------------------------------------------------

FITTED = ("conv", "conv1x1", "pool", "fc")


def _bounded_lstsq(a, y, lower):
    """min |a x - y| with x >= lower, by an active set on x - lower."""
    y = y - a @ lower
    free = np.ones(a.shape[1], bool)
    while True:
        x = np.zeros(a.shape[1])
        x[free] = np.linalg.lstsq(a[:, free], y, rcond=None)[0]
        if (x >= 0).all() or not free.any():
            return x + lower
        free &= x > 0


def fit_params(stages, measured_ms, shaves=12, base=DEFAULT, total_weight=3.0):
    """Overhead, bandwidth and the FITTED efficiencies that minimise the
    per-stage relative error (plus the total's, weighted `total_weight`);
    efficiencies are capped at 1 (no class beats the peak)."""
    t = np.asarray(measured_ms, float)
    cls = [op_class(s) for s in stages]
    scale = base.peak_gflops_12 * shave_scale(shaves, base)   # MFLOP per ms
    fixed = np.array([0.0 if c in FITTED else compute_ms(s, shaves, base)
                      for s, c in zip(stages, cls)])
    mflop = np.array([stage_flops(s) / 1e6 for s in stages])
    cols = [np.ones(len(t))]
    cols += [mflop * np.array([c == k for c in cls]) for k in FITTED]
    cols.append(np.array([stage_bytes(s) / 1e6 for s in stages]))
    a = np.stack(cols, 1)
    rows = np.vstack([a / t[:, None], total_weight * a.sum(0) / t.sum()])
    y = np.append((t - fixed) / t, total_weight * (1 - fixed.sum() / t.sum()))
    lower = np.array([0.0] + [1.0 / scale] * len(FITTED) + [0.0])
    x = _bounded_lstsq(rows, y, lower)
    eff = dict(base.efficiency)
    eff.update({k: 1.0 / (scale * v) for k, v in zip(FITTED, x[1:-1])})
    return base.with_(overhead_ms=x[0], ddr_gbytes_s=1.0 / x[-1],
                      efficiency=eff)
