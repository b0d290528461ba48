"""Fast fp16 -> float32 reads: a 65536-entry table indexed by the bit
pattern is ~3x faster than numpy's software half conversion."""
import numpy as np

try:    # the ufunc itself: np.clip's Python wrapper costs ~5 us a call
    from numpy._core.umath import clip
except ImportError:     # numpy < 2
    clip = np.clip

_TABLE = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)


def to_float32(half):
    """float32 copy (C order) of an fp16 array of any strides."""
    return _TABLE[half.view(np.uint16)]


_U = np.uint32
_NORMAL_MIN = _U(113 << 23)          # 2^-14, the smallest normal fp16
_OVERFLOW = _U(143 << 23)            # 2^16: inf (65520..65535 round there too)


def to_float16_bits(x):
    """fp16 bit patterns (uint16) of float32 x, rounded to nearest even.

    Bit-exact with numpy's astype(float16) but branch-free on the common
    path (numpy's software conversion is ~3x slower on ReLU outputs); the
    rare fp16 subnormals and overflows are fixed up by index.
    """
    x = np.ascontiguousarray(x, np.float32).reshape(-1)
    bits = x.view(_U)
    a = bits & _U(0x7FFFFFFF)
    o = a >> _U(13)
    o &= _U(1)
    o += a
    o += _U(0xC8000FFF)              # exponent -= 112 << 23; + 0xFFF rounds
    o >>= _U(13)
    o *= a >= _NORMAL_MIN            # zeros (and subnormals, fixed below)
    sub = np.flatnonzero((a - _U(1)) < _NORMAL_MIN - _U(1))
    if sub.size:    # |x| < 2^-14: adding 0.5 rounds to a multiple of 2^-24
        o[sub] = (np.abs(x[sub]) + np.float32(0.5)).view(_U) - _U(0x3F000000)
    big = np.flatnonzero(a >= _OVERFLOW)
    if big.size:
        o[big] = np.where(a[big] > _U(0x7F800000), 0x7E00, 0x7C00)
    sign = bits >> _U(16)
    sign &= _U(0x8000)
    o |= sign
    return o.astype(np.uint16)


_ABS = _U(0x7FFFFFFF)
_TIE = _U(113 << 23)                 # 2^-14
_INF_FROM = _U(0x477FF000)           # 65520 rounds (to even) to inf
_F32_INF = _U(0x7F800000)


def round_to_fp16(x, in_place=False):
    """float32 array of x rounded to the nearest fp16 value (ties to even).

    The executor keeps device memory as float32 slots holding exactly the
    fp16 values, so this rounding is the only conversion a stage pays.
    Same values as x.astype(float16).astype(float32), ~2x faster.
    ``in_place`` reuses x when it is a C-contiguous float32 array.
    """
    if not (in_place and isinstance(x, np.ndarray) and x.dtype == np.float32
            and x.flags.c_contiguous and x.flags.writeable):
        x = np.array(x, np.float32, order="C", copy=True)
    flat = x.reshape(-1)
    bits = flat.view(_U)
    a = bits & _ABS
    r = a >> _U(13)
    r &= _U(1)
    r += a
    r += _U(0xFFF)
    r &= _U(0xFFFFE000)              # 11 significant bits, nearest even
    if a.size and a.max() >= _INF_FROM:
        big = np.flatnonzero(a >= _INF_FROM)
        r[big] = np.where(a[big] > _F32_INF, _U(0x7FC00000), _F32_INF)
    a -= _U(1)                       # zero wraps to the top: not subnormal
    if a.size and a.min() < _TIE - _U(1):
        sub = np.flatnonzero(a < _TIE - _U(1))
        # fp16 subnormals: adding 0.5 rounds to a multiple of 2^-24
        r[sub] = ((np.abs(flat[sub]) + np.float32(0.5))
                  - np.float32(0.5)).view(_U)
    bits &= _U(0x80000000)
    bits |= r
    return x


_F16_LIMIT = np.float32(65520)       # |x| from here on rounds to inf
_EXP = _U(0x7F800000)
_SUBNORMAL_STEP = _U(113 << 23)      # exponent of 2^-14: below, steps of 2^-24
_TOP = _U(142 << 23)                 # exponent of 2^15, the largest finite
_SHIFT13 = _U(13 << 23)              # 2^13: float32 ulp of 2^(e+13) = 2^(e-10)


def round_nonnegative_into(y, out, below_limit=False, scratch=None):
    """Stores y rounded to fp16 values into out; False if y does not qualify.

    The fast path for ReLU outputs (~2.5x faster than round_to_fp16 plus a
    store): y must be a C-contiguous float32 array holding no negative
    value and no -0.0 (the caller knows: it is a ReLU's output); it is
    overwritten; out is a float32 array (any strides) of as many values.
    For 0 <= y < 65520 with exponent e, C = 2^(max(e, -14) + 13) has
    float32 ulp 2^(e-10), fp16's step at e (2^-24 below 2^-14), so y + C
    rounds y to fp16 precision, ties to even (C's last bit is even), and
    subtracting C back is exact: one float add, one subtract. NaN or too
    large values return False with y untouched, unless the caller knows
    ``below_limit`` (a ReLU-X cap): then a NaN stays a NaN, its payload
    y's own rather than round_to_fp16's canonical one (GetResult's fp16
    conversion makes every NaN canonical), which saves a pass. ``scratch``
    is a uint32 array of y's shape to use for C (else a new one).
    """
    if y.size == 0 or not y.flags.c_contiguous or y.dtype != np.float32:
        return False
    if not (below_limit or np.maximum.reduce(y, axis=None) < _F16_LIMIT):
        return False
    c = np.bitwise_and(y.view(_U), _EXP, out=scratch)
    clip(c, _SUBNORMAL_STEP, _TOP, out=c)
    c += _SHIFT13
    step = c.view(np.float32)
    y += step
    if y.shape != out.shape:
        y, step = y.reshape(out.shape), step.reshape(out.shape)
    np.subtract(y, step, out=out)
    return True
