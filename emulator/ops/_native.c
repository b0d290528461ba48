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
    return 0;
}

static float from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* cond (0 or 1) ? yes : no, as bit masks: selects written so keep every
 * loop below free of branches, which gcc then vectorizes. */
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

static PyObject *finish(PyObject *self, PyObject *args)
{
    PyObject *yo, *oo, *bo;
    int mode;
    float lo, hi;
    Py_ssize_t r0, r1;
    if (!PyArg_ParseTuple(args, "OOOiffnn", &yo, &oo, &bo, &mode, &lo, &hi,
                          &r0, &r1))
        return NULL;
    Array y, out, bias;
    int has_bias = bo != Py_None;
    if (take(yo, &y, 3, 0, "y") < 0)
        return NULL;
    if (take(oo, &out, 3, 1, "out") < 0) {
        PyBuffer_Release(&y.view);
        return NULL;
    }
    if (has_bias && take(bo, &bias, 1, 0, "bias") < 0) {
        PyBuffer_Release(&y.view);
        PyBuffer_Release(&out.view);
        return NULL;
    }
    int ok = 1;
    for (int i = 0; i < 3; i++)
        ok &= y.shape[i] == out.shape[i];
    ok &= y.step[2] == 1 && r0 >= 0 && r0 <= r1 && r1 <= y.shape[0];
    ok &= !has_bias || (bias.shape[0] == y.shape[2] && bias.step[0] == 1);
    ok &= mode >= IDENTITY && mode <= CLIP;
    if (ok) {
        const float *b = has_bias ? bias.data : NULL;
        Row row = ROWS[mode][has_bias];
        Py_ssize_t w = y.shape[1], c = y.shape[2];
        /* a dense row without bias is one run of w x c values */
        int flat = !has_bias && y.step[1] == c && out.step[1] == c;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t h = r0; h < r1; h++) {
            const float *yh = y.data + h * y.step[0];
            float *oh = out.data + h * out.step[0];
            if (out.step[2] != 1)
                row_strided(&y, &out, h, b, mode, lo, hi);
            else if (flat)
                row(yh, 0, oh, 0, 1, w * c, NULL, lo, hi);
            else
                row(yh, y.step[1], oh, out.step[1], w, c, b, lo, hi);
        }
        Py_END_ALLOW_THREADS
    } else {
        PyErr_SetString(PyExc_ValueError, "finish: mismatched arrays");
    }
    PyBuffer_Release(&y.view);
    PyBuffer_Release(&out.view);
    if (has_bias)
        PyBuffer_Release(&bias.view);
    if (!ok)
        return NULL;
    Py_RETURN_NONE;
}

/* One kernel tap over a row of ow output pixels of c channels:
 * o[x][i] += x[x * xs + i] * w[i]; output pixels os floats apart. */
WIDE static void tap_row(float *o, Py_ssize_t os, const float *x,
                         Py_ssize_t xs, const float *w, Py_ssize_t ow,
                         Py_ssize_t c)
{
    for (Py_ssize_t p = 0; p < ow; p++, o += os, x += xs)
        for (Py_ssize_t i = 0; i < c; i++)
            o[i] += x[i] * w[i];
}

/* Output rows [r0, r1) of a depthwise convolution with multiplier 1 over
 * an already padded input: each value starts at 0 and adds the product of
 * every tap, (ky, kx) in file order, a whole output row per tap. */
static void depthwise_rows(const Array *x, const Array *w, Array *out,
                           Py_ssize_t sy, Py_ssize_t sx,
                           Py_ssize_t r0, Py_ssize_t r1)
{
    Py_ssize_t kh = w->shape[0], kw = w->shape[1], c = w->shape[2];
    Py_ssize_t ow = out->shape[1], os = out->step[1];
    for (Py_ssize_t oy = r0; oy < r1; oy++) {
        float *o = out->data + oy * out->step[0];
        for (Py_ssize_t p = 0; p < ow; p++)
            memset(o + p * os, 0, (size_t)c * sizeof(float));
        for (Py_ssize_t ky = 0; ky < kh; ky++)
            for (Py_ssize_t kx = 0; kx < kw; kx++)
                tap_row(o, os, x->data + (oy * sy + ky) * x->step[0]
                                   + kx * x->step[1],
                        sx * x->step[1], w->data + (ky * kw + kx) * c, ow, c);
    }
}

static PyObject *depthwise(PyObject *self, PyObject *args)
{
    PyObject *xo, *wo, *oo;
    Py_ssize_t sy, sx, r0, r1;
    if (!PyArg_ParseTuple(args, "OOOnnnn", &xo, &wo, &oo, &sy, &sx, &r0, &r1))
        return NULL;
    Array x, w, out;
    if (take(xo, &x, 3, 0, "x") < 0)
        return NULL;
    if (take(wo, &w, 3, 0, "w") < 0) {
        PyBuffer_Release(&x.view);
        return NULL;
    }
    if (take(oo, &out, 3, 1, "out") < 0) {
        PyBuffer_Release(&x.view);
        PyBuffer_Release(&w.view);
        return NULL;
    }
    Py_ssize_t kh = w.shape[0], kw = w.shape[1], c = w.shape[2];
    int ok = sy > 0 && sx > 0 && kh > 0 && kw > 0
        && x.step[2] == 1 && out.step[2] == 1 && w.step[2] == 1
        && w.step[1] == c && w.step[0] == kw * c
        && x.shape[2] == c && out.shape[2] == c
        && (out.shape[0] - 1) * sy + kh <= x.shape[0]
        && (out.shape[1] - 1) * sx + kw <= x.shape[1]
        && 0 <= r0 && r0 <= r1 && r1 <= out.shape[0];
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        depthwise_rows(&x, &w, &out, sy, sx, r0, r1);
        Py_END_ALLOW_THREADS
    } else {
        PyErr_SetString(PyExc_ValueError, "depthwise: mismatched arrays");
    }
    PyBuffer_Release(&x.view);
    PyBuffer_Release(&w.view);
    PyBuffer_Release(&out.view);
    if (!ok)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"finish", finish, METH_VARARGS,
     "finish(y, out, bias, mode, lo, hi, r0, r1): rows [r0, r1) of out = "
     "fp16(act(y + bias)); mode 0 none, 1 ReLU, 2 clip to [lo, hi]."},
    {"depthwise", depthwise, METH_VARARGS,
     "depthwise(x, w, out, sy, sx, r0, r1): rows [r0, r1) of a depthwise "
     "convolution (multiplier 1) of padded x by taps w[kh][kw][c]."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native",
    "The emulated stick's hot loops (see emulator/ops/native.py).", -1,
    methods
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
