/* Optional C accelerator for the polyphase resampler (rvoip_sansio.codecs._resample_native).
 *
 * Only the dot products live here. rvoip_sansio/codecs/_resample.py designs the filter,
 * keeps the stream state (sample counts, filter history) and decides every argument; this
 * file computes, for output i of a chunk,
 *
 *     prod = r + i*down,  acc = sum_j coef[prod % up][j] * ext[prod / up + j]
 *
 * over ext = history (taps - 1 samples) + the chunk, then rint(acc * 2^-24) saturated to
 * int16: exactly the pure path's matrix product. The arithmetic is exact in float64 in any
 * summation order (Q24 integer coefficients times int16 samples: every partial sum is an
 * integer below 2^41), so vectorised sums give the very samples of numpy's product and
 * rint (ties to even, the default rounding mode) those of numpy.rint.
 *
 * Anything off the fast path (wrong dtype, layout or size) makes resample() return None
 * before it changes anything; the caller then takes the pure path. (BatchResampler stays
 * on numpy: one BLAS product over all streams was measured faster than this loop; so was
 * a variant vectorised across outputs instead of taps, 32 outputs per block.)
 */
#define PY_SSIZE_T_CLEAN
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <Python.h>
#include <numpy/arrayobject.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Bumped whenever a signature changes, so that a stale build is not used. */
#define RESAMPLE_NATIVE_ABI 1

#include "_exact_dot.h"

static inline int16_t
to_int16(double acc)
{
    acc = nearbyint(acc * (1.0 / 16777216.0)); /* Q24 -> samples, ties to even */
    if (!(acc >= -32768.0)) /* also NaN (a hand-made coef): no undefined cast */
        return -32768;
    if (acc > 32767.0)
        return 32767;
    return (int16_t)acc;
}

EXACT_DOT_CLONES static void
run(const double *ext, const double *coef, Py_ssize_t taps, Py_ssize_t up, Py_ssize_t down,
    Py_ssize_t r, Py_ssize_t count, int16_t *out)
{
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t prod = r + i * down;
        out[i] = to_int16(dot(ext + prod / up, coef + (prod % up) * taps, taps));
    }
}

/* ---- argument checks --------------------------------------------------------------------- */

static int
is_array(PyObject *o, int type, int writable)
{
    PyArrayObject *a;
    if (Py_TYPE(o) != &PyArray_Type)
        return 0;
    a = (PyArrayObject *)o;
    return PyArray_TYPE(a) == type && PyArray_ISNOTSWAPPED(a) && PyArray_IS_C_CONTIGUOUS(a) &&
           PyArray_ISALIGNED(a) && (!writable || PyArray_ISWRITEABLE(a));
}

/* coef: float64 (up, taps); the largest input row an output reads must exist in ext. */
static int
shape_ok(PyArrayObject *coef, Py_ssize_t up, Py_ssize_t down, Py_ssize_t r, Py_ssize_t count,
         Py_ssize_t ext_len, Py_ssize_t *taps)
{
    if (PyArray_NDIM(coef) != 2 || PyArray_DIM(coef, 0) != up || up <= 0 || down <= 0 ||
        r < 0 || count < 0)
        return 0;
    *taps = PyArray_DIM(coef, 1);
    if (*taps < 1)
        return 0;
    /* r + (count - 1) * down must not overflow (only a direct call can pass such values) */
    if (count > 0 && (count - 1) > (PY_SSIZE_T_MAX - r) / down)
        return 0;
    return count == 0 || (r + (count - 1) * down) / up + *taps <= ext_len;
}

static void
fill_ext(double *ext, const double *hist, Py_ssize_t h, const int16_t *x, Py_ssize_t n)
{
    memcpy(ext, hist, (size_t)h * sizeof(double));
    for (Py_ssize_t i = 0; i < n; i++)
        ext[h + i] = (double)x[i];
}

/* ---- resample(hist, x, coef, r, up, down, count) ------------------------------------------ */

PyDoc_STRVAR(resample_doc,
             "resample(hist, x, coef, r, up, down, count) -> int16 array or None\n\n"
             "``count`` outputs of one mono chunk; ``hist`` (float64, taps - 1 values) is the\n"
             "filter history and is replaced in place by the newest taps - 1 inputs.");

static PyObject *
resample(PyObject *self, PyObject *args)
{
    PyObject *hist_o, *x_o, *coef_o;
    Py_ssize_t r, up, down, count, taps, h, n;
    double *ext;
    PyArrayObject *out;
    npy_intp dims[1];

    if (!PyArg_ParseTuple(args, "OOOnnnn", &hist_o, &x_o, &coef_o, &r, &up, &down, &count))
        return NULL;
    if (!is_array(hist_o, NPY_FLOAT64, 1) || !is_array(x_o, NPY_INT16, 0) ||
        !is_array(coef_o, NPY_FLOAT64, 0) || PyArray_NDIM((PyArrayObject *)x_o) != 1)
        Py_RETURN_NONE;
    h = PyArray_SIZE((PyArrayObject *)hist_o);
    n = PyArray_DIM((PyArrayObject *)x_o, 0);
    if (!shape_ok((PyArrayObject *)coef_o, up, down, r, count, h + n, &taps) || h != taps - 1)
        Py_RETURN_NONE;
    dims[0] = count;
    out = (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_INT16);
    if (out == NULL)
        return NULL;
    ext = PyMem_Malloc((size_t)(h + n) * sizeof(double));
    if (ext == NULL) {
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    fill_ext(ext, PyArray_DATA((PyArrayObject *)hist_o), h, PyArray_DATA((PyArrayObject *)x_o), n);
    run(ext, PyArray_DATA((PyArrayObject *)coef_o), taps, up, down, r, count, PyArray_DATA(out));
    memcpy(PyArray_DATA((PyArrayObject *)hist_o), ext + n, (size_t)h * sizeof(double));
    PyMem_Free(ext);
    return (PyObject *)out;
}

static PyMethodDef methods[] = {
    {"resample", resample, METH_VARARGS, resample_doc},
    {NULL, NULL, 0, NULL},
};

/* Multi-phase initialisation (PEP 489): the ABI constant is added when the module runs. */
static int
exec_module(PyObject *m)
{
    return PyModule_AddIntConstant(m, "ABI", RESAMPLE_NATIVE_ABI);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, (void *)exec_module},
    {0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_resample_native",
    .m_doc = "Optional C accelerator for the polyphase resampler (rvoip_sansio/codecs/_resample.py).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit__resample_native(void)
{
    import_array();
    return PyModuleDef_Init(&module);
}
