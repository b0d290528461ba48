/* The emulated stick's two hottest loops in C: depthwise convolution and
 * the end of every stage (bias, ReLU / ReLU-X, rounding to fp16, store).
 *
 * Optional: emulator/ops/native.py falls back to numpy when this module
 * was not built, and the results are the same bits either way (tests
 * compare the two). So the arithmetic here is numpy's, operation by
 * operation: float32 products summed tap by tap from 0 in file order,
 * no fused multiply-add (built with -ffp-contract=off), and the rounding
 * of fp16.round_to_fp16. Both functions release the GIL, so two threads
 * can share the rows of one layer (ops.parallel) and several emulated
 * sticks can run at once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) \
    && defined(__linux__)
/* One build for any x86-64; the AVX2 copy is chosen at load time. */
#define WIDE __attribute__((target_clones("avx2", "default")))
#else
#define WIDE
#endif

/* A float32 array of ndim dimensions with its strides in floats. */
typedef struct {
    Py_buffer view;
    int taken;                  /* view holds a buffer to release */
    float *data;
    Py_ssize_t shape[3];
    Py_ssize_t step[3];
} Array;

static int take(PyObject *obj, Array *a, int ndim, int writable,
                const char *what)
{
    int flags = PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &a->view, flags) < 0)
        return -1;
    const char *f = a->view.format;
    if (a->view.itemsize != 4 || f == NULL
        || !(strcmp(f, "f") == 0 || strcmp(f, "<f") == 0
             || strcmp(f, "=f") == 0)
        || a->view.ndim != ndim) {
        PyErr_Format(PyExc_TypeError, "%s: expected a %d-D float32 array",
                     what, ndim);
        PyBuffer_Release(&a->view);
        return -1;
    }
    for (int i = 0; i < ndim; i++) {
        if (a->view.strides[i] % 4) {
            PyErr_Format(PyExc_ValueError, "%s: unaligned strides", what);
            PyBuffer_Release(&a->view);
            return -1;
        }
        a->shape[i] = a->view.shape[i];
        a->step[i] = a->view.strides[i] / 4;
    }
    a->data = (float *)a->view.buf;
    a->taken = 1;
    return 0;
}

static void release(Array *arrays, int n)
{
    for (int i = 0; i < n; i++)
        if (arrays[i].taken)
            PyBuffer_Release(&arrays[i].view);
}

/* The arrays named by objs (None for an absent optional one: its data is
 * NULL); on failure those taken so far are released and -1 returned. */
static int take_all(PyObject **objs, Array *arrays, const int *ndims,
                    const int *writable, const char **names, int n)
{
    for (int i = 0; i < n; i++) {
        if (objs[i] == Py_None) {
            memset(&arrays[i], 0, sizeof(Array));
            continue;
        }
        if (take(objs[i], &arrays[i], ndims[i], writable[i], names[i]) < 0) {
            release(arrays, i);
            return -1;
        }
    }
    return 0;
}

/* A call's end: its arrays released; None, or ValueError if the arrays
 * did not fit together (ok 0), in which case nothing was computed. */
static PyObject *done(int ok, Array *arrays, int n, const char *what)
{
    release(arrays, n);
    if (!ok)
        return PyErr_Format(PyExc_ValueError, "%s: mismatched arrays", what);
    Py_RETURN_NONE;
}

static float from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* cond (0 or 1) ? yes : no, as bit masks: selects written this way keep
 * the loops below free of branches, so that gcc vectorizes them. */
static inline uint32_t pick(uint32_t cond, uint32_t yes, uint32_t no)
{
    uint32_t m = 0u - cond;
    return (yes & m) | (no & ~m);
}

/* fp16.round_to_fp16 for one value: nearest fp16, ties to even; fp16
 * subnormals by adding and removing 0.5; overflow to inf; NaN canonical;
 * the sign kept. */
static inline float round_fp16(float v)
{
    uint32_t b = to_bits(v);
    uint32_t a = b & 0x7FFFFFFFu;
    uint32_t r = (a + 0xFFFu + ((a >> 13) & 1u)) & 0xFFFFE000u;
    float t = (fabsf(v) + 0.5f) - 0.5f;
    r = pick(a - 1u < (113u << 23) - 1u, to_bits(t), r);
    r = pick(a >= 0x477FF000u,
             0x7F800000u | ((uint32_t)(a > 0x7F800000u) << 22), r);
    return from_bits((b & 0x80000000u) | r);
}

enum { IDENTITY = 0, RELU = 1, CLIP = 2 };

/* The postOp, as numpy computes it. */
static inline float act(float v, int mode, float lo, float hi)
{
    if (mode == RELU)           /* np.maximum(v, 0): -0.0 gives +0.0 */
        return from_bits(pick(!(v <= 0.0f), to_bits(v), 0u));
    if (mode == CLIP) {         /* np.clip: -0.0 and NaN stay */
        v = v < lo ? lo : v;
        return v > hi ? hi : v;
    }
    return v;
}

/* A row of w pixels of n channels each, pixels ys and os floats apart,
 * channels dense: o = fp16(act(y + b)). One function per case, so that
 * no loop has a branch inside and gcc vectorizes them all. o may be y. */
#define ROW(NAME, MODE, BIAS) \
    WIDE static void NAME(const float *y, Py_ssize_t ys, float *o, \
                          Py_ssize_t os, Py_ssize_t w, Py_ssize_t n, \
                          const float *b, float lo, float hi) \
    { \
        for (Py_ssize_t x = 0; x < w; x++, y += ys, o += os) \
            for (Py_ssize_t i = 0; i < n; i++) \
                o[i] = round_fp16(act(BIAS ? y[i] + b[i] : y[i], MODE, \
                                      lo, hi)); \
    }
ROW(row_none, IDENTITY, 0)
ROW(row_none_b, IDENTITY, 1)
ROW(row_relu, RELU, 0)
ROW(row_relu_b, RELU, 1)
ROW(row_clip, CLIP, 0)
ROW(row_clip_b, CLIP, 1)

typedef void (*Row)(const float *, Py_ssize_t, float *, Py_ssize_t,
                    Py_ssize_t, Py_ssize_t, const float *, float, float);
static const Row ROWS[3][2] = {{row_none, row_none_b},
                               {row_relu, row_relu_b},
                               {row_clip, row_clip_b}};

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_F16C 1

/* ROW on a CPU with F16C: its fp16 conversions round to nearest even in
 * hardware, 2-3x faster than round_fp16's bit work. The same values; a
 * NaN keeps part of its payload instead of becoming the canonical one
 * (GetResult makes every NaN canonical anyway). max/min take v as their
 * second operand, so that like np.clip they return a NaN v and keep a
 * -0.0 v. */
__attribute__((target("avx2,f16c")))
static void row_f16c(const float *y, Py_ssize_t ys, float *o, Py_ssize_t os,
                     Py_ssize_t w, Py_ssize_t n, const float *b, int mode,
                     float lo, float hi)
{
    const __m256 zero = _mm256_setzero_ps();
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (Py_ssize_t x = 0; x < w; x++, y += ys, o += os) {
        Py_ssize_t i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 v = _mm256_loadu_ps(y + i);
            if (b)
                v = _mm256_add_ps(v, _mm256_loadu_ps(b + i));
            if (mode == RELU)       /* v <= 0 (not NaN): +0.0 */
                v = _mm256_andnot_ps(_mm256_cmp_ps(v, zero, _CMP_LE_OQ), v);
            else if (mode == CLIP)
                v = _mm256_min_ps(vhi, _mm256_max_ps(vlo, v));
            __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
            _mm256_storeu_ps(o + i, _mm256_cvtph_ps(h));
        }
        for (; i < n; i++)
            o[i] = round_fp16(act(b ? y[i] + b[i] : y[i], mode, lo, hi));
    }
}
#endif

static int use_f16c;            /* set once at import */

/* The same for one row whose output channels are not dense (rare). */
static void row_strided(const Array *y, Array *out, Py_ssize_t h,
                        const float *b, int mode, float lo, float hi)
{
    for (Py_ssize_t x = 0; x < y->shape[1]; x++)
        for (Py_ssize_t c = 0; c < y->shape[2]; c++) {
            float v = y->data[h * y->step[0] + x * y->step[1] + c];
            v = round_fp16(act(b ? v + b[c] : v, mode, lo, hi));
            out->data[h * out->step[0] + x * out->step[1]
                      + c * out->step[2]] = v;
        }
}

/* Rows [r0, r1) of y's stage end into out, as ROW does (strided output
 * channels too). */
static void finish_rows(const Array *y, Array *out, const float *b, int mode,
                        float lo, float hi, Py_ssize_t r0, Py_ssize_t r1)
{
    Row row = ROWS[mode][b != NULL];
    Py_ssize_t w = y->shape[1], c = y->shape[2];
    Py_ssize_t ys = y->step[1], os = out->step[1];
    /* a dense row without bias is one run of w x c values */
    if (b == NULL && ys == c && os == c) {
        ys = os = 0;
        c *= w;
        w = 1;
    }
    for (Py_ssize_t h = r0; h < r1; h++) {
        const float *yh = y->data + h * y->step[0];
        float *oh = out->data + h * out->step[0];
        if (out->step[2] != 1)
            row_strided(y, out, h, b, mode, lo, hi);
#ifdef HAVE_F16C
        else if (use_f16c)
            row_f16c(yh, ys, oh, os, w, c, b, mode, lo, hi);
#endif
        else
            row(yh, ys, oh, os, w, c, b, lo, hi);
    }
}

static int valid_end(const Array *bias, Py_ssize_t c, int mode)
{
    return (bias->data == NULL || (bias->shape[0] == c && bias->step[0] == 1))
        && mode >= IDENTITY && mode <= CLIP;
}

static PyObject *finish(PyObject *self, PyObject *args)
{
    PyObject *objs[3];
    int mode;
    float lo, hi;
    Py_ssize_t r0, r1;
    if (!PyArg_ParseTuple(args, "OOOiffnn", &objs[0], &objs[1], &objs[2],
                          &mode, &lo, &hi, &r0, &r1))
        return NULL;
    static const int ndims[] = {3, 3, 1}, writable[] = {0, 1, 0};
    static const char *names[] = {"y", "out", "bias"};
    Array a[3];
    if (objs[0] == Py_None || objs[1] == Py_None) {
        PyErr_SetString(PyExc_TypeError, "finish: y and out are arrays");
        return NULL;
    }
    if (take_all(objs, a, ndims, writable, names, 3) < 0)
        return NULL;
    Array *y = &a[0], *out = &a[1];
    int ok = 1;
    for (int i = 0; i < 3; i++)
        ok &= y->shape[i] == out->shape[i];
    ok &= y->step[2] == 1 && r0 >= 0 && r0 <= r1 && r1 <= y->shape[0]
        && valid_end(&a[2], y->shape[2], mode);
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        finish_rows(y, out, a[2].data, mode, lo, hi, r0, r1);
        Py_END_ALLOW_THREADS
    }
    return done(ok, a, 3, "finish");
}

/* Eight floats in one vector register (two SSE registers in the default
 * build, one AVX register in the AVX2 one); loaded and stored unaligned. */
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));

#define LOAD(p) (*(const v8u *)(p))
#define STORE(p, v) (*(v8u *)(p) = (v))

/* The taps of one output pixel: rows [ky0, ky1) and columns [kx0, kx1) of
 * the kernel fall inside the input, whose tap (ky, kx) is at
 * x + ky * ys + kx * xs. */
typedef struct {
    const float *x;
    Py_ssize_t ys, xs, ky0, ky1, kx0, kx1;
} Taps;

/* One output pixel of c channels: every value starts at 0 and adds the
 * product of each tap inside the input, (ky, kx) in file order (a tap in
 * the padding would add 0 x w: nothing, for the finite w the caller
 * ensures). 32 channels at a time in four registers, then 8, then one. */
WIDE static void depthwise_pixel(float *o, const Taps *t, const float *w,
                                 Py_ssize_t kw, Py_ssize_t c)
{
    Py_ssize_t i = 0;
    for (; i + 32 <= c; i += 32) {
        v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (Py_ssize_t ky = t->ky0; ky < t->ky1; ky++)
            for (Py_ssize_t kx = t->kx0; kx < t->kx1; kx++) {
                const float *xi = t->x + ky * t->ys + kx * t->xs + i;
                const float *wi = w + (ky * kw + kx) * c + i;
                a0 += LOAD(xi) * LOAD(wi);
                a1 += LOAD(xi + 8) * LOAD(wi + 8);
                a2 += LOAD(xi + 16) * LOAD(wi + 16);
                a3 += LOAD(xi + 24) * LOAD(wi + 24);
            }
        STORE(o + i, a0);
        STORE(o + i + 8, a1);
        STORE(o + i + 16, a2);
        STORE(o + i + 24, a3);
    }
    for (; i + 8 <= c; i += 8) {
        v8 a = {0};
        for (Py_ssize_t ky = t->ky0; ky < t->ky1; ky++)
            for (Py_ssize_t kx = t->kx0; kx < t->kx1; kx++)
                a += LOAD(t->x + ky * t->ys + kx * t->xs + i)
                    * LOAD(w + (ky * kw + kx) * c + i);
        STORE(o + i, a);
    }
    for (; i < c; i++) {
        float a = 0.0f;
        for (Py_ssize_t ky = t->ky0; ky < t->ky1; ky++)
            for (Py_ssize_t kx = t->kx0; kx < t->kx1; kx++)
                a += t->x[ky * t->ys + kx * t->xs + i]
                    * w[(ky * kw + kx) * c + i];
        o[i] = a;
    }
}

static Py_ssize_t clamp(Py_ssize_t v, Py_ssize_t lo, Py_ssize_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Output rows [r0, r1) of a depthwise convolution with multiplier 1 of x
 * padded by top rows and left columns (of zeros, never materialized). */
typedef struct {            /* a stage end: bias (or NULL), mode, clip */
    const float *bias;
    int mode;                   /* -1: none, leave the sums */
    float lo, hi;
} End;

static void depthwise_rows(const Array *x, const Array *w, Array *out,
                           Py_ssize_t sy, Py_ssize_t sx, Py_ssize_t top,
                           Py_ssize_t left, Py_ssize_t r0, Py_ssize_t r1,
                           const End *end)
{
    Py_ssize_t kh = w->shape[0], kw = w->shape[1], c = w->shape[2];
    Py_ssize_t h = x->shape[0], wd = x->shape[1];
    Taps t = {0, x->step[0], x->step[1], 0, 0, 0, 0};
    for (Py_ssize_t oy = r0; oy < r1; oy++) {
        Py_ssize_t iy = oy * sy - top;      /* input row of tap ky = 0 */
        t.ky0 = clamp(-iy, 0, kh);
        t.ky1 = clamp(h - iy, t.ky0, kh);
        for (Py_ssize_t ox = 0; ox < out->shape[1]; ox++) {
            Py_ssize_t ix = ox * sx - left;
            t.kx0 = clamp(-ix, 0, kw);
            t.kx1 = clamp(wd - ix, t.kx0, kw);
            t.x = x->data + iy * x->step[0] + ix * x->step[1];
            depthwise_pixel(out->data + oy * out->step[0]
                            + ox * out->step[1], &t, w->data, kw, c);
        }
        if (end->mode >= 0)     /* the row's end while it is in cache */
            finish_rows(out, out, end->bias, end->mode, end->lo, end->hi,
                        oy, oy + 1);
    }
}

static PyObject *depthwise(PyObject *self, PyObject *args)
{
    PyObject *objs[4];
    Py_ssize_t sy, sx, top, left, r0, r1;
    End e;
    if (!PyArg_ParseTuple(args, "OOOnnnnnnOiff", &objs[0], &objs[1],
                          &objs[2], &sy, &sx, &top, &left, &r0, &r1,
                          &objs[3], &e.mode, &e.lo, &e.hi))
        return NULL;
    static const int ndims[] = {3, 3, 3, 1}, writable[] = {0, 0, 1, 0};
    static const char *names[] = {"x", "w", "out", "bias"};
    Array a[4];
    if (objs[0] == Py_None || objs[1] == Py_None || objs[2] == Py_None) {
        PyErr_SetString(PyExc_TypeError, "depthwise: x, w, out are arrays");
        return NULL;
    }
    if (take_all(objs, a, ndims, writable, names, 4) < 0)
        return NULL;
    Array *x = &a[0], *w = &a[1], *out = &a[2];
    Py_ssize_t kh = w->shape[0], kw = w->shape[1], c = w->shape[2];
    int ok = sy > 0 && sx > 0 && kh > 0 && kw > 0 && top >= 0 && left >= 0
        && x->step[2] == 1 && out->step[2] == 1 && w->step[2] == 1
        && w->step[1] == c && w->step[0] == kw * c
        && x->shape[2] == c && out->shape[2] == c
        && 0 <= r0 && r0 <= r1 && r1 <= out->shape[0]
        && (e.mode == -1 || valid_end(&a[3], c, e.mode));
    e.bias = a[3].data;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        depthwise_rows(x, w, out, sy, sx, top, left, r0, r1, &e);
        Py_END_ALLOW_THREADS
    }
    return done(ok, a, 4, "depthwise");
}

static PyMethodDef methods[] = {
    {"finish", finish, METH_VARARGS,
     "finish(y, out, bias, mode, lo, hi, r0, r1): rows [r0, r1) of out = "
     "fp16(act(y + bias)); mode 0 none, 1 ReLU, 2 clip to [lo, hi]."},
    {"depthwise", depthwise, METH_VARARGS,
     "depthwise(x, w, out, sy, sx, top, left, r0, r1, bias, mode, lo, hi): "
     "rows [r0, r1) of a depthwise convolution (multiplier 1) by taps "
     "w[kh][kw][c] of x padded with zeros (top rows, left columns, and "
     "wherever a tap falls outside), each row then finished as finish() "
     "does unless mode is -1."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native",
    "The emulated stick's hot loops (see emulator/ops/native.py).", -1,
    methods
};

PyMODINIT_FUNC PyInit__native(void)
{
#ifdef HAVE_F16C
    __builtin_cpu_init();
    const char *f16c = getenv("MVNC_EMULATOR_F16C");     /* "0": not */
    use_f16c = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c")
        && !(f16c && strcmp(f16c, "0") == 0);
#endif
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "F16C", use_f16c) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
