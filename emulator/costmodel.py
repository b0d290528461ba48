"""Per-stage time estimates (ms) for a Myriad 2, from a stage record alone.

time = overhead + FLOPs / (peak * efficiency(op) * shave_scale(shaves))
       + bytes moved / bandwidth

All tunable numbers are in DEFAULT below, so a later fit (to the measured
GoogLeNet profile: 88.66 ms at 12 shaves) only replaces that table.
FLOPs are counted the way NCSDK's profiler reported them.
"""
from dataclasses import dataclass, field, replace

from ncsformat import Op


def _efficiencies():
    """Share of peak each stage type reaches (the rest is stalls, DMA waits)."""
    return {
        Op.CONV: 0.55,          # GoogLeNet 3x3 convs run ~60 GFLOPS measured
        Op.DECONV: 0.35,
        Op.DEPTH_CONV: 0.15,    # little reuse per loaded value
        Op.FC: 0.10,            # weight-bound: one MAC per loaded weight
        Op.MAX_POOL: 0.05,
        Op.AVG_POOL: 0.05,
    }


@dataclass(frozen=True)
class CostParams:
    """The cost model's parameters; see DEFAULT for the values and units."""
    shave_mhz: float             # SHAVE clock (documentation; peak uses it)
    peak_gflops_12: float        # fp16 peak of all 12 SHAVEs
    parallel_fraction: float     # Amdahl share of a layer that scales
    ddr_gbytes_s: float          # effective DDR bandwidth, GB/s
    overhead_ms: float           # fixed cost per stage (setup, DMA descriptors)
    default_efficiency: float    # ops missing from `efficiency`
    efficiency: dict = field(default_factory=_efficiencies)

    def with_(self, **changes):
        return replace(self, **changes)


DEFAULT = CostParams(
    shave_mhz=600.0,
    peak_gflops_12=100.0,
    parallel_fraction=0.7,   # speedup over 1 shave: 4 -> 2.1, 8 -> 2.6, 12 -> 2.8
    ddr_gbytes_s=2.0,
    overhead_ms=0.1,
    default_efficiency=0.05,
)

_MAX_SHAVES = 12


def shave_scale(shaves, params=DEFAULT):
    """Throughput at `shaves` relative to all 12 (Amdahl's law)."""
    p = params.parallel_fraction

    def speedup(n):
        return 1.0 / ((1.0 - p) + p / n)
    n = min(max(int(shaves), 1), _MAX_SHAVES)
    return speedup(n) / speedup(_MAX_SHAVES)


def stage_flops(st):
    """FLOPs of one stage as NCSDK's profiler counted them."""
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


def stage_time_ms(st, shaves=12, params=DEFAULT):
    """Estimated device time of one stage in milliseconds."""
    eff = params.efficiency.get(st.op, params.default_efficiency)
    rate = params.peak_gflops_12 * 1e9 * eff * shave_scale(shaves, params)
    compute_s = stage_flops(st) / rate
    memory_s = stage_bytes(st) / (params.ddr_gbytes_s * 1e9)
    return params.overhead_ms + 1e3 * (compute_s + memory_s)


def graph_times_ms(stages, shaves=12, params=DEFAULT):
    """Per-stage estimates, in file order."""
    return [stage_time_ms(st, shaves, params) for st in stages]
