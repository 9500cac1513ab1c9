/* Optional C accelerator for G.711 Appendix I concealment (rvoip_sansio.codecs._plc_native).
 *
 * One Concealer object per stream holds the whole state of the algorithm that
 * rvoip_sansio/codecs/_plc.py writes over numpy (history, pitch buffer, last quarter period,
 * pitch, offsets, erasure count, attenuation) and runs the same steps in the same order with
 * the same IEEE double operations, so that its int16 output equals the numpy path's sample
 * for sample:
 *
 * - the pitch search (Appendix I findpitch) scores a lag by corr / sqrt(max(energy, minpower))
 *   where corr and energy are sums of products of integral values (the history as doubles):
 *   every product is below 2^30 and every partial sum below 320 * 2^30 < 2^53, so both sums
 *   are exact in any order (numpy's BLAS dot and einsum included) and sqrt and the division
 *   are correctly rounded: the same scores, so the same lag (the last of equal maxima, as
 *   the reference's ">=");
 * - every other step (overlap-add weights, the 20 % per 10 ms fade, the recovery blend) is a
 *   fixed sequence of IEEE double operations, written here in numpy's evaluation order; it
 *   needs double arithmetic without extended precision (FLT_EVAL_METHOD 0) and without
 *   contraction into fused multiply-adds, which this file turns off (a build that cannot
 *   promise both fails, and the package then uses the numpy path).
 *
 * The Python class checks every argument (frame dtype and shape, unit counts) and reads the
 * sizes; this file takes only a 1-D C-contiguous native int16 array (anything else raises
 * TypeError) and a count.
 */
#define PY_SSIZE_T_CLEAN
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <Python.h>
#include <numpy/arrayobject.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "the numpy path's results need double arithmetic without extended precision"
#endif
#if defined(__FAST_MATH__)
#error "-ffast-math would reorder the floating-point steps that must match numpy"
#endif
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#else
#pragma STDC FP_CONTRACT OFF
#endif

/* Bumped whenever the interface or the results change, so that a stale build is not used. */
#define PLC_NATIVE_ABI 1
/* Largest rate / 8000 taken: keeps every pitch-search sum (corr_len = 160 k products below
 * 2^30 each) far below 2^53, so exact; WaveformConcealer uses numpy above it. */
#define PLC_MAX_K 1024

typedef struct {
    PyObject_HEAD
    /* sizes (8 kHz values times k; see WaveformConcealer.__init__) */
    Py_ssize_t unit, pitch_min, pitch_max, pitch_diff, delay, hist_len, ndec, corr_len,
        overlap_incr;
    double min_power;
    /* state */
    int16_t *hist;    /* hist_len samples played, newest last */
    double *pitchbuf; /* hist_len: the history taken at the start of a loss */
    double *lastq;    /* delay: the last quarter period before the loss */
    double *work;     /* unit: scratch for the tail of the old pitch buffer */
    double *syn;      /* unit: one unit of synthetic signal */
    int16_t *syn16;   /* unit: the same as samples */
    double *dec;      /* (corr_len + pitch_max) / ndec: the decimated search window */
    Py_ssize_t pitch, poverlap, poffset, pitchblen;
    long long erasecnt;
    double atten;
} Concealer;

static void
reset_state(Concealer *c)
{
    memset(c->hist, 0, (size_t)c->hist_len * sizeof(int16_t));
    memset(c->pitchbuf, 0, (size_t)c->hist_len * sizeof(double));
    memset(c->lastq, 0, (size_t)c->delay * sizeof(double));
    c->pitch = c->pitch_max;
    c->poverlap = c->pitch >> 2;
    c->poffset = 0;
    c->pitchblen = c->pitch;
    c->erasecnt = 0;
    c->atten = 1.0;
}

/* np.trunc(np.clip(x, -32768, 32767)) kept as a double. */
static inline double
clipd(double x)
{
    if (x < -32768.0)
        return -32768.0;
    if (x > 32767.0)
        return 32767.0;
    return trunc(x);
}

/* ... .astype(np.int16): integral and in range, so the cast is exact. */
static inline int16_t
clip16(double x)
{
    return (int16_t)clipd(x);
}

/* Append s[0:n] to the history; out[0:n] = (history + s)[hist_len - delay : ... + n]. */
static void
save(Concealer *c, const int16_t *s, Py_ssize_t n, int16_t *out)
{
    Py_ssize_t h = c->hist_len, d = c->delay;
    if (n <= d) {
        memcpy(out, c->hist + h - d, (size_t)n * sizeof(int16_t));
    } else {
        memcpy(out, c->hist + h - d, (size_t)d * sizeof(int16_t));
        memcpy(out + d, s, (size_t)(n - d) * sizeof(int16_t));
    }
    if (n >= h) {
        memcpy(c->hist, s + n - h, (size_t)h * sizeof(int16_t));
    } else {
        memmove(c->hist, c->hist + n, (size_t)(h - n) * sizeof(int16_t));
        memcpy(c->hist + h - n, s, (size_t)n * sizeof(int16_t));
    }
}

/* Next n samples of the repeating pitch buffer (_synth). */
static void
synth(Concealer *c, double *out, Py_ssize_t n)
{
    const double *base = c->pitchbuf + c->hist_len - c->pitchblen;
    Py_ssize_t len = c->pitchblen, off = c->poffset % len; /* numpy's % (off >= 0) */
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = base[off];
        if (++off == len)
            off = 0;
    }
    c->poffset = off;
}

/* out[i] = trunc(clip((1 - rw) * left[i] + rw * right[i])), rw = incr + i * incr (_ola). */
static void
ola(double *out, const double *left, const double *right, Py_ssize_t n, Py_ssize_t cnt)
{
    double incr = 1.0 / (double)cnt;
    for (Py_ssize_t i = 0; i < n; i++) {
        double rw = incr + (double)i * incr;
        double a = (1.0 - rw) * left[i];
        double b = rw * right[i];
        out[i] = clipd(a + b);
    }
}

/* The 20 % per 10 ms fade (_scale). */
static void
scale(Concealer *c, double *out, Py_ssize_t n)
{
    double step = 0.2 / (double)c->unit;
    double atten = c->atten;
    for (Py_ssize_t i = 0; i < n; i++) {
        double g = atten - step * (double)i;
        out[i] = trunc(out[i] * (g > 0.0 ? g : 0.0));
    }
    atten = atten - step * (double)n;
    c->atten = atten > 0.0 ? atten : 0.0;
}

/* ---- pitch search (_find_pitch, _best) ---------------------------------------------------- */

/* sum a[t] b[t] (_exact_dot.h): with integral a and b below 2^15 in magnitude every
 * partial sum is an integer below 2^53, so exact in any order (top of the file); the
 * search is built for AVX2 too (the clones give the same lags; nothing else is cloned). */
#include "_exact_dot.h"

/* The m in [0, nlags) whose window r[m : m + len] scores best against target[0 : len]:
 * corr / sqrt(max(energy, min_power)), the last of equal scores (the reference's ">=";
 * numpy: argmax of the reversed scores). The energy slides from one lag to the next (one
 * product out, one in): integers again, so the very sums numpy's einsum gives. */
EXACT_DOT_CLONES static Py_ssize_t
best_lag(const Concealer *c, const double *r, const double *target, Py_ssize_t nlags,
         Py_ssize_t len)
{
    Py_ssize_t best = 0;
    double best_score = 0.0;
    double energy = dot(r, r, len);
    for (Py_ssize_t m = 0; m < nlags; m++) {
        if (m > 0)
            energy = energy - r[m - 1] * r[m - 1] + r[m - 1 + len] * r[m - 1 + len];
        double corr = dot(r + m, target, len);
        double score = corr / sqrt(energy > c->min_power ? energy : c->min_power);
        if (m == 0 || score >= best_score) {
            best = m;
            best_score = score;
        }
    }
    return best;
}

/* Appendix I findpitch: a coarse search on every nd-th sample and lag (nd = 2k: 2:1 at
 * 8 kHz), then every lag within nd - 1 of the best; returns the period in samples. */
static Py_ssize_t
find_pitch(const Concealer *c)
{
    const double *buf = c->pitchbuf;
    Py_ssize_t end = c->hist_len, clen = c->corr_len, nd = c->ndec;
    const double *r = buf + end - clen - c->pitch_max; /* lag j: the window r[j : j + clen] */
    /* Decimated: lag j = nd*m of the coarse grid is the window dec[m : m + clen/nd], and
     * the target (r[pitch_max:]) is dec[pitch_max/nd:] (pitch_max, pitch_diff and clen are
     * multiples of nd = 2k). */
    double *dec = c->dec;
    Py_ssize_t ndec = (clen + c->pitch_max) / nd;
    for (Py_ssize_t m = 0; m < ndec; m++)
        dec[m] = r[m * nd];
    Py_ssize_t best = nd * best_lag(c, dec, dec + c->pitch_max / nd, c->pitch_diff / nd + 1,
                                    clen / nd);
    Py_ssize_t lo = best - (nd - 1) > 0 ? best - (nd - 1) : 0;
    Py_ssize_t hi = best + (nd - 1) < c->pitch_diff ? best + (nd - 1) : c->pitch_diff;
    best = lo + best_lag(c, r + lo, r + c->pitch_max, hi - lo + 1, clen);
    return c->pitch_max - best;
}

/* ---- one concealed unit (_conceal_unit): n <= unit samples into out ----------------------- */

static void
conceal_unit(Concealer *c, Py_ssize_t n, int16_t *out)
{
    Py_ssize_t end = c->hist_len;
    double *syn = c->syn;
    if (c->erasecnt == 0) {
        for (Py_ssize_t i = 0; i < end; i++)
            c->pitchbuf[i] = (double)c->hist[i];
        c->pitch = find_pitch(c);
        Py_ssize_t pov = c->poverlap = c->pitch >> 2;
        memcpy(c->lastq, c->pitchbuf + end - pov, (size_t)pov * sizeof(double));
        c->poffset = 0;
        c->pitchblen = c->pitch;
        Py_ssize_t start = end - c->pitchblen;
        /* Smooth the wrap from the end of the period back to its start. */
        ola(c->pitchbuf + end - pov, c->lastq, c->pitchbuf + start - pov, pov, pov);
        for (Py_ssize_t i = end - pov; i < end; i++)
            c->hist[i] = (int16_t)c->pitchbuf[i]; /* integral values within int16 */
        c->atten = 1.0;
        synth(c, syn, n);
    } else if (c->erasecnt == 1 || c->erasecnt == 2) {
        Py_ssize_t pov = c->poverlap;
        Py_ssize_t saved = c->poffset;
        double *tail = c->work;
        synth(c, tail, pov); /* the old buffer's continuation, to fade out */
        c->poffset = saved;
        while (c->poffset > c->pitch) /* same phase, within one period */
            c->poffset -= c->pitch;
        c->pitchblen += c->pitch; /* one more period into the buffer */
        Py_ssize_t start = end - c->pitchblen;
        ola(c->pitchbuf + end - pov, c->lastq, c->pitchbuf + start - pov, pov, pov);
        synth(c, syn, n);
        Py_ssize_t m = pov < n ? pov : n;
        ola(syn, tail, syn, m, pov);
        scale(c, syn, n);
    } else if (c->erasecnt > 5) {
        memset(syn, 0, (size_t)n * sizeof(double));
    } else {
        synth(c, syn, n);
        scale(c, syn, n);
    }
    c->erasecnt++;
    int16_t *s = c->syn16;
    for (Py_ssize_t i = 0; i < n; i++)
        s[i] = clip16(syn[i]);
    save(c, s, n, out);
}

/* ---- the Python type ---------------------------------------------------------------------- */

static PyObject *
Concealer_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"k", NULL};
    Py_ssize_t k;
    Concealer *c;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n", kwlist, &k))
        return NULL;
    if (k <= 0 || k > PLC_MAX_K) {
        PyErr_SetString(PyExc_ValueError, "k (the sample rate / 8000) must be in 1..MAX_K");
        return NULL;
    }
    c = (Concealer *)type->tp_alloc(type, 0);
    if (c == NULL)
        return NULL;
    c->unit = 80 * k;
    c->pitch_min = 40 * k;
    c->pitch_max = 120 * k;
    c->pitch_diff = c->pitch_max - c->pitch_min;
    c->delay = c->pitch_max >> 2;
    c->hist_len = 3 * c->pitch_max + c->delay;
    c->ndec = 2 * k;
    c->corr_len = 160 * k;
    c->overlap_incr = 32 * k;
    c->min_power = 250.0 * (double)k;
    c->hist = PyMem_Calloc((size_t)c->hist_len, sizeof(int16_t));
    c->pitchbuf = PyMem_Calloc((size_t)c->hist_len, sizeof(double));
    c->lastq = PyMem_Calloc((size_t)c->delay, sizeof(double));
    c->work = PyMem_Calloc((size_t)c->unit, sizeof(double));
    c->syn = PyMem_Calloc((size_t)c->unit, sizeof(double));
    c->syn16 = PyMem_Calloc((size_t)c->unit, sizeof(int16_t));
    c->dec = PyMem_Calloc((size_t)((c->corr_len + c->pitch_max) / c->ndec), sizeof(double));
    if (c->hist == NULL || c->pitchbuf == NULL || c->lastq == NULL || c->work == NULL ||
        c->syn == NULL || c->syn16 == NULL || c->dec == NULL) {
        Py_DECREF(c);
        return PyErr_NoMemory();
    }
    reset_state(c);
    return (PyObject *)c;
}

static void
Concealer_dealloc(Concealer *c)
{
    PyMem_Free(c->hist);
    PyMem_Free(c->pitchbuf);
    PyMem_Free(c->lastq);
    PyMem_Free(c->work);
    PyMem_Free(c->syn);
    PyMem_Free(c->syn16);
    PyMem_Free(c->dec);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyArrayObject *
new_int16(Py_ssize_t n)
{
    npy_intp dims[1] = {n};
    return (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_INT16);
}

PyDoc_STRVAR(receive_doc,
             "receive(frame) -> int16 array\n\n"
             "Record a good frame (1-D C-contiguous native int16 array); return as many\n"
             "samples, delayed by ``delay``, blended out of a loss when one precedes it.");

static PyObject *
Concealer_receive(Concealer *c, PyObject *frame)
{
    PyArrayObject *a = (PyArrayObject *)frame, *res;
    Py_ssize_t n;
    if (Py_TYPE(frame) != &PyArray_Type || PyArray_TYPE(a) != NPY_INT16 ||
        PyArray_NDIM(a) != 1 || !PyArray_ISNOTSWAPPED(a) || !PyArray_IS_C_CONTIGUOUS(a) ||
        !PyArray_ISALIGNED(a)) {
        PyErr_SetString(PyExc_TypeError, "frame must be a 1-D contiguous native int16 array");
        return NULL;
    }
    n = PyArray_DIM(a, 0);
    res = new_int16(n);
    if (res == NULL)
        return NULL;
    const int16_t *x = PyArray_DATA(a);
    int16_t *out = PyArray_DATA(res);
    if (c->erasecnt == 0) {
        save(c, x, n, out);
        return (PyObject *)res;
    }
    /* Longer losses get longer overlaps into the real signal (Appendix I addtohistory). */
    Py_ssize_t olen = c->unit;
    if (c->erasecnt - 1 < (long long)c->unit) /* (no overflow for absurd erasure counts) */
        olen = c->poverlap + (Py_ssize_t)(c->erasecnt - 1) * c->overlap_incr;
    if (olen > c->unit)
        olen = c->unit;
    if (olen > n)
        olen = n;
    if (olen > 0) {
        double *syn = c->work;
        int16_t *s = c->syn16;
        synth(c, syn, olen);
        double incr = 1.0 / (double)olen;
        double gain = 1.0 - (double)(c->erasecnt - 1) * 0.2;
        if (!(gain > 0.0))
            gain = 0.0;
        double lw0 = (1.0 - incr) * gain;
        for (Py_ssize_t i = 0; i < olen; i++) {
            double ii = (double)i;
            double lw = lw0 - ii * incr * gain;
            double rw = incr + ii * incr;
            double a1 = lw * syn[i];
            double b1 = rw * (double)x[i];
            s[i] = clip16(a1 + b1);
        }
        /* Saving in two parts gives what saving the whole frame at once gives. */
        save(c, s, olen, out);
    }
    c->erasecnt = 0;
    save(c, x + olen, n - olen, out + olen);
    return (PyObject *)res;
}

PyDoc_STRVAR(conceal_doc,
             "conceal(n) -> int16 array\n\n"
             "``n`` samples of substitute audio (10 ms units; n <= 0 gives an empty array).");

static PyObject *
Concealer_conceal(Concealer *c, PyObject *arg)
{
    Py_ssize_t n = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    PyArrayObject *res;
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0)
        n = 0;
    res = new_int16(n);
    if (res == NULL)
        return NULL;
    int16_t *out = PyArray_DATA(res);
    for (Py_ssize_t done = 0; done < n;) {
        Py_ssize_t m = n - done < c->unit ? n - done : c->unit;
        conceal_unit(c, m, out + done);
        done += m;
    }
    return (PyObject *)res;
}

static PyObject *
Concealer_reset(Concealer *c, PyObject *Py_UNUSED(ignored))
{
    reset_state(c);
    Py_RETURN_NONE;
}

static PyObject *
Concealer_get_erased(Concealer *c, void *Py_UNUSED(closure))
{
    return PyLong_FromLongLong(c->erasecnt);
}

static PyObject *
Concealer_get_pitch(Concealer *c, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(c->pitch);
}

/* A writable int16 view of the history; it keeps the object (and so the buffer) alive. */
static PyObject *
Concealer_get_history(Concealer *c, void *Py_UNUSED(closure))
{
    npy_intp dims[1] = {c->hist_len};
    PyObject *view = PyArray_SimpleNewFromData(1, dims, NPY_INT16, c->hist);
    if (view == NULL)
        return NULL;
    Py_INCREF(c);
    if (PyArray_SetBaseObject((PyArrayObject *)view, (PyObject *)c) < 0) {
        Py_DECREF(view);
        return NULL;
    }
    return view;
}

static PyMethodDef Concealer_methods[] = {
    {"receive", (PyCFunction)Concealer_receive, METH_O, receive_doc},
    {"conceal", (PyCFunction)Concealer_conceal, METH_O, conceal_doc},
    {"reset", (PyCFunction)Concealer_reset, METH_NOARGS, "Back to the state of a new stream."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Concealer_getset[] = {
    {"erased", (getter)Concealer_get_erased, NULL, "10 ms units concealed since the last good frame", NULL},
    {"pitch", (getter)Concealer_get_pitch, NULL, "pitch period of the last loss, in samples", NULL},
    {"history", (getter)Concealer_get_history, NULL, "writable view of the history", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ConcealerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rvoip_sansio.codecs._plc_native.Concealer",
    .tp_basicsize = sizeof(Concealer),
    .tp_dealloc = (destructor)Concealer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Concealer(k): G.711 Appendix I state for one stream at 8000*k Hz.",
    .tp_methods = Concealer_methods,
    .tp_getset = Concealer_getset,
    .tp_new = Concealer_new,
};

static int
exec_module(PyObject *m)
{
    if (PyType_Ready(&ConcealerType) < 0)
        return -1;
    Py_INCREF(&ConcealerType);
    if (PyModule_AddObject(m, "Concealer", (PyObject *)&ConcealerType) < 0) {
        Py_DECREF(&ConcealerType);
        return -1;
    }
    if (PyModule_AddIntConstant(m, "MAX_K", PLC_MAX_K) < 0)
        return -1;
    return PyModule_AddIntConstant(m, "ABI", PLC_NATIVE_ABI);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, (void *)exec_module},
    {0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_plc_native",
    .m_doc = "Optional C accelerator for G.711 Appendix I concealment (rvoip_sansio/codecs/_plc.py).",
    .m_size = 0,
    .m_methods = NULL,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit__plc_native(void)
{
    import_array();
    return PyModuleDef_Init(&module);
}
