/* Optional C accelerator for G.711 (rvoip_sansio.codecs._g711_native).
 *
 * Only table lookups live here. The tables are not compiled in: rvoip_sansio/codecs/_g711.py
 * builds them from the ITU-T G.191 algorithm (and tests them against the G.191 tables) and
 * hands them over once through _init(), so this file holds no codec knowledge that could
 * drift from the pure path.
 *
 * Every public function has a fast path for the common, exactly-typed case (a C-contiguous,
 * aligned, native-order int16 numpy.ndarray; a bytes or bytearray payload; width 2) and
 * otherwise calls the pure-Python function registered with _set_fallbacks() with the very
 * same arguments, so results and typed errors (CodecError) are those of the pure path by
 * construction. Per 20 ms frame the cost is one C call, one allocation and 160 lookups: the
 * fixed per-call cost of numpy that the pure path cannot avoid (docs/codecs.md) is not paid.
 */
#define PY_SSIZE_T_CLEAN
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <Python.h>
#include <numpy/arrayobject.h>

#include <stdint.h>
#include <string.h>

/* Bumped whenever _init/_set_fallbacks change, so that a stale build is not used. */
#define G711_NATIVE_ABI 1

enum { ENC_ULAW, ENC_ALAW, ENC_ULAW_AUDIOOP, N_ENC };
enum { DEC_ULAW, DEC_ALAW, N_DEC };

static uint8_t enc_table[N_ENC][65536]; /* indexed by the sample's 16-bit pattern */
static int16_t dec_table[N_DEC][256];   /* indexed by the code */
static int tables_ready = 0;

enum {
    FB_ULAW_ENCODE,
    FB_ALAW_ENCODE,
    FB_ULAW_DECODE,
    FB_ALAW_DECODE,
    FB_ULAW_ENCODE_FRAMES,
    FB_ALAW_ENCODE_FRAMES,
    FB_ULAW_DECODE_FRAMES,
    FB_ALAW_DECODE_FRAMES,
    FB_ULAW2LIN,
    FB_ALAW2LIN,
    FB_LIN2ULAW,
    FB_LIN2ALAW,
    N_FB
};

static const char *const fallback_names[N_FB] = {
    "ulaw_encode",        "alaw_encode",        "ulaw_decode",        "alaw_decode",
    "ulaw_encode_frames", "alaw_encode_frames", "ulaw_decode_frames", "alaw_decode_frames",
    "ulaw2lin",           "alaw2lin",           "lin2ulaw",           "lin2alaw",
};

static PyObject *fallback[N_FB];

/* ---- the pure path, for everything the fast paths do not take -------------------------- */

static PyObject *
no_fallback(int which)
{
    PyErr_Format(PyExc_RuntimeError,
                 "rvoip_sansio.codecs._g711_native.%s: no pure fallback registered",
                 fallback_names[which]);
    return NULL;
}

static PyObject *
delegate1(int which, PyObject *arg)
{
    if (fallback[which] == NULL)
        return no_fallback(which);
    return PyObject_CallOneArg(fallback[which], arg);
}

static PyObject *
delegate(int which, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (fallback[which] == NULL)
        return no_fallback(which);
    return PyObject_Vectorcall(fallback[which], args, (size_t)nargs, kwnames);
}

/* ---- input classification --------------------------------------------------------------- */

/* A plain ndarray of native-order int16, C-contiguous and aligned: readable as uint16_t[]. */
static int
is_plain_int16(PyObject *o)
{
    PyArrayObject *a;
    if (Py_TYPE(o) != &PyArray_Type)
        return 0;
    a = (PyArrayObject *)o;
    return PyArray_TYPE(a) == NPY_INT16 && PyArray_ISNOTSWAPPED(a) &&
           PyArray_IS_C_CONTIGUOUS(a) && PyArray_ISALIGNED(a);
}

/* bytes or bytearray exactly (not subclasses, not other buffers: those go the pure way). */
static int
plain_bytes(PyObject *o, const uint8_t **data, Py_ssize_t *size)
{
    if (PyBytes_CheckExact(o)) {
        *data = (const uint8_t *)PyBytes_AS_STRING(o);
        *size = PyBytes_GET_SIZE(o);
        return 1;
    }
    if (PyByteArray_CheckExact(o)) {
        *data = (const uint8_t *)PyByteArray_AS_STRING(o);
        *size = PyByteArray_GET_SIZE(o);
        return 1;
    }
    return 0;
}

/* The width argument is exactly the int 2 (bools and other values take the pure path). */
static int
is_width2(PyObject *w)
{
    int overflow = 0;
    if (!PyLong_CheckExact(w))
        return 0;
    return PyLong_AsLongAndOverflow(w, &overflow) == 2 && !overflow;
}

/* ---- kernels ---------------------------------------------------------------------------- */

static void
encode_run(const uint8_t *table, const uint16_t *src, uint8_t *dst, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        dst[i] = table[src[i]];
}

static void
encode_run_unaligned(const uint8_t *table, const uint8_t *src, uint8_t *dst, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        uint16_t v;
        memcpy(&v, src + 2 * i, 2); /* native order, as numpy.frombuffer(..., int16) */
        dst[i] = table[v];
    }
}

static void
decode_run(const int16_t *table, const uint8_t *src, int16_t *dst, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        dst[i] = table[src[i]];
}

static void
decode_run_unaligned(const int16_t *table, const uint8_t *src, uint8_t *dst, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        memcpy(dst + 2 * i, &table[src[i]], 2); /* native order, as numpy's tobytes() */
}

/* ---- numpy API: ulaw_encode / ulaw_decode and the batch forms --------------------------- */

static PyObject *
encode_array(int enc, int which, PyObject *pcm)
{
    PyArrayObject *a;
    Py_ssize_t n;
    PyObject *out;
    if (!tables_ready || !is_plain_int16(pcm))
        return delegate1(which, pcm);
    a = (PyArrayObject *)pcm;
    n = (Py_ssize_t)PyArray_SIZE(a);
    out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL)
        return NULL;
    encode_run(enc_table[enc], (const uint16_t *)PyArray_DATA(a),
               (uint8_t *)PyBytes_AS_STRING(out), n);
    return out;
}

static PyObject *
decode_array(int dec, int which, PyObject *payload)
{
    const uint8_t *src;
    Py_ssize_t n;
    npy_intp dims[1];
    PyObject *out;
    if (!tables_ready || !plain_bytes(payload, &src, &n))
        return delegate1(which, payload);
    dims[0] = (npy_intp)n;
    out = PyArray_SimpleNew(1, dims, NPY_INT16);
    if (out == NULL)
        return NULL;
    decode_run(dec_table[dec], src, (int16_t *)PyArray_DATA((PyArrayObject *)out), n);
    return out;
}

static PyObject *
encode_frames(int enc, int which, PyObject *frames)
{
    PyArrayObject *a;
    npy_intp rows, step;
    const uint16_t *src;
    PyObject *list;
    if (!tables_ready || !is_plain_int16(frames) ||
        PyArray_NDIM((PyArrayObject *)frames) != 2)
        return delegate1(which, frames);
    a = (PyArrayObject *)frames;
    rows = PyArray_DIM(a, 0);
    step = PyArray_DIM(a, 1);
    if (step == 0)
        return delegate1(which, frames);
    list = PyList_New((Py_ssize_t)rows);
    if (list == NULL)
        return NULL;
    src = (const uint16_t *)PyArray_DATA(a); /* after the allocation (which may run finalizers) */
    for (npy_intp r = 0; r < rows; r++) {
        PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)step);
        if (b == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        encode_run(enc_table[enc], src + r * step, (uint8_t *)PyBytes_AS_STRING(b),
                   (Py_ssize_t)step);
        PyList_SET_ITEM(list, (Py_ssize_t)r, b);
    }
    return list;
}

static PyObject *
decode_frames(int dec, int which, PyObject *payloads)
{
    PyObject **items;
    Py_ssize_t n, size;
    npy_intp dims[2];
    PyObject *out;
    int16_t *dst;
    if (!tables_ready)
        return delegate1(which, payloads);
    if (PyList_CheckExact(payloads)) {
        n = PyList_GET_SIZE(payloads);
        items = ((PyListObject *)payloads)->ob_item;
    }
    else if (PyTuple_CheckExact(payloads)) {
        n = PyTuple_GET_SIZE(payloads);
        items = ((PyTupleObject *)payloads)->ob_item;
    }
    else {
        return delegate1(which, payloads);
    }
    /* Empty batches, other payload types and unequal lengths (a CodecError) go the pure way. */
    if (n == 0 || !PyBytes_CheckExact(items[0]))
        return delegate1(which, payloads);
    size = PyBytes_GET_SIZE(items[0]);
    for (Py_ssize_t i = 1; i < n; i++) {
        if (!PyBytes_CheckExact(items[i]) || PyBytes_GET_SIZE(items[i]) != size)
            return delegate1(which, payloads);
    }
    dims[0] = (npy_intp)n;
    dims[1] = (npy_intp)size;
    out = PyArray_SimpleNew(2, dims, NPY_INT16);
    if (out == NULL)
        return NULL;
    /* An allocation may run a garbage collection and with it arbitrary finalizers, which
     * could change a list: look again (no Python code runs after this point). */
    if (PyList_CheckExact(payloads)) {
        if (PyList_GET_SIZE(payloads) != n) {
            Py_DECREF(out);
            return delegate1(which, payloads);
        }
        items = ((PyListObject *)payloads)->ob_item;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyBytes_CheckExact(items[i]) || PyBytes_GET_SIZE(items[i]) != size) {
            Py_DECREF(out);
            return delegate1(which, payloads);
        }
    }
    dst = (int16_t *)PyArray_DATA((PyArrayObject *)out);
    for (Py_ssize_t i = 0; i < n; i++)
        decode_run(dec_table[dec], (const uint8_t *)PyBytes_AS_STRING(items[i]),
                   dst + i * size, size);
    return out;
}

/* The public METH_O functions: one per law, each a kernel with its table and fallback. */
#define METH_O_FUNCTION(name, kernel, table, which)                                          \
    static PyObject *name(PyObject *self, PyObject *arg)                                     \
    {                                                                                        \
        return kernel(table, which, arg);                                                    \
    }

METH_O_FUNCTION(ulaw_encode, encode_array, ENC_ULAW, FB_ULAW_ENCODE)
METH_O_FUNCTION(alaw_encode, encode_array, ENC_ALAW, FB_ALAW_ENCODE)
METH_O_FUNCTION(ulaw_decode, decode_array, DEC_ULAW, FB_ULAW_DECODE)
METH_O_FUNCTION(alaw_decode, decode_array, DEC_ALAW, FB_ALAW_DECODE)
METH_O_FUNCTION(ulaw_encode_frames, encode_frames, ENC_ULAW, FB_ULAW_ENCODE_FRAMES)
METH_O_FUNCTION(alaw_encode_frames, encode_frames, ENC_ALAW, FB_ALAW_ENCODE_FRAMES)
METH_O_FUNCTION(ulaw_decode_frames, decode_frames, DEC_ULAW, FB_ULAW_DECODE_FRAMES)
METH_O_FUNCTION(alaw_decode_frames, decode_frames, DEC_ALAW, FB_ALAW_DECODE_FRAMES)

/* ---- audioop-style bytes API: width 2 only here, the rest through the pure path --------- */

static PyObject *
bytes_decode(int dec, int which, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    const uint8_t *src;
    Py_ssize_t n;
    PyObject *out;
    if (!tables_ready || kwnames != NULL || nargs != 2 || !is_width2(args[1]) ||
        !plain_bytes(args[0], &src, &n))
        return delegate(which, args, nargs, kwnames);
    out = PyBytes_FromStringAndSize(NULL, 2 * n);
    if (out == NULL)
        return NULL;
    decode_run_unaligned(dec_table[dec], src, (uint8_t *)PyBytes_AS_STRING(out), n);
    return out;
}

static PyObject *
bytes_encode(int enc, int which, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    const uint8_t *src;
    Py_ssize_t n;
    PyObject *out;
    /* Keywords (rounding=...), odd lengths (a CodecError) and other widths: pure path. */
    if (!tables_ready || kwnames != NULL || nargs != 2 || !is_width2(args[1]) ||
        !plain_bytes(args[0], &src, &n) || (n & 1))
        return delegate(which, args, nargs, kwnames);
    out = PyBytes_FromStringAndSize(NULL, n / 2);
    if (out == NULL)
        return NULL;
    encode_run_unaligned(enc_table[enc], src, (uint8_t *)PyBytes_AS_STRING(out), n / 2);
    return out;
}

/* The public METH_FASTCALL | METH_KEYWORDS functions of the bytes API. */
#define FASTCALL_FUNCTION(name, kernel, table, which)                                        \
    static PyObject *name(PyObject *self, PyObject *const *args, Py_ssize_t nargs,           \
                          PyObject *kwnames)                                                 \
    {                                                                                        \
        return kernel(table, which, args, nargs, kwnames);                                   \
    }

FASTCALL_FUNCTION(ulaw2lin, bytes_decode, DEC_ULAW, FB_ULAW2LIN)
FASTCALL_FUNCTION(alaw2lin, bytes_decode, DEC_ALAW, FB_ALAW2LIN)
FASTCALL_FUNCTION(lin2ulaw, bytes_encode, ENC_ULAW, FB_LIN2ULAW)
FASTCALL_FUNCTION(lin2alaw, bytes_encode, ENC_ALAW, FB_LIN2ALAW)

/* ---- set-up ----------------------------------------------------------------------------- */

static int
copy_table(PyObject *src, void *dst, Py_ssize_t size, const char *what)
{
    if (!PyBytes_CheckExact(src) || PyBytes_GET_SIZE(src) != size) {
        PyErr_Format(PyExc_ValueError, "_init: %s must be bytes of length %zd", what, size);
        return -1;
    }
    memcpy(dst, PyBytes_AS_STRING(src), (size_t)size);
    return 0;
}

static PyObject *
init_tables(PyObject *self, PyObject *args)
{
    PyObject *ue, *ae, *uea, *ud, *ad;
    if (!PyArg_ParseTuple(args, "OOOOO:_init", &ue, &ae, &uea, &ud, &ad))
        return NULL;
    if (copy_table(ue, enc_table[ENC_ULAW], 65536, "ulaw_encode") < 0 ||
        copy_table(ae, enc_table[ENC_ALAW], 65536, "alaw_encode") < 0 ||
        copy_table(uea, enc_table[ENC_ULAW_AUDIOOP], 65536, "ulaw_encode_audioop") < 0 ||
        copy_table(ud, dec_table[DEC_ULAW], 512, "ulaw_decode") < 0 ||
        copy_table(ad, dec_table[DEC_ALAW], 512, "alaw_decode") < 0) {
        tables_ready = 0;
        return NULL;
    }
    tables_ready = 1;
    Py_RETURN_NONE;
}

static PyObject *
set_fallbacks(PyObject *self, PyObject *mapping)
{
    if (!PyDict_Check(mapping)) {
        PyErr_SetString(PyExc_TypeError, "_set_fallbacks takes a dict of name -> callable");
        return NULL;
    }
    for (int i = 0; i < N_FB; i++) {
        PyObject *fn = PyDict_GetItemString(mapping, fallback_names[i]); /* borrowed */
        if (fn == NULL)
            continue;
        if (!PyCallable_Check(fn)) {
            PyErr_Format(PyExc_TypeError, "fallback %s is not callable", fallback_names[i]);
            return NULL;
        }
        Py_INCREF(fn);
        Py_XSETREF(fallback[i], fn);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(ulaw_encode_doc,
             "ulaw_encode(pcm, /)\n--\n\nμ-law codes of int16 samples, one byte each "
             "(G.711 / G.191).");
PyDoc_STRVAR(alaw_encode_doc,
             "alaw_encode(pcm, /)\n--\n\nA-law codes of int16 samples, one byte each "
             "(G.711 / G.191).");
PyDoc_STRVAR(ulaw_decode_doc, "ulaw_decode(payload, /)\n--\n\nint16 samples of μ-law codes.");
PyDoc_STRVAR(alaw_decode_doc, "alaw_decode(payload, /)\n--\n\nint16 samples of A-law codes.");
PyDoc_STRVAR(ulaw_encode_frames_doc,
             "ulaw_encode_frames(frames, /)\n--\n\nBatch API: encode a (n_frames, samples) "
             "array at once, one payload per row.");
PyDoc_STRVAR(alaw_encode_frames_doc,
             "alaw_encode_frames(frames, /)\n--\n\nBatch API: A-law encode a (n_frames, "
             "samples) array, one payload per row.");
PyDoc_STRVAR(ulaw_decode_frames_doc,
             "ulaw_decode_frames(payloads, /)\n--\n\nBatch API: decode equal-length μ-law "
             "payloads to a (n_frames, samples) array.");
PyDoc_STRVAR(alaw_decode_frames_doc,
             "alaw_decode_frames(payloads, /)\n--\n\nBatch API: decode equal-length A-law "
             "payloads to a (n_frames, samples) array.");
PyDoc_STRVAR(ulaw2lin_doc, "μ-law codes to linear samples of width octets; the same bytes as "
                           "audioop.ulaw2lin.");
PyDoc_STRVAR(alaw2lin_doc, "A-law codes to linear samples of width octets; the same bytes as "
                           "audioop.alaw2lin.");
PyDoc_STRVAR(lin2ulaw_doc, "Linear samples to μ-law codes (G.711 per G.191); "
                           "rounding=\"audioop\" gives audioop.lin2ulaw's codes.");
PyDoc_STRVAR(lin2alaw_doc, "Linear samples to A-law codes (G.711 per G.191).");

#define FASTKW (METH_FASTCALL | METH_KEYWORDS)

static PyMethodDef methods[] = {
    {"ulaw_encode", ulaw_encode, METH_O, ulaw_encode_doc},
    {"alaw_encode", alaw_encode, METH_O, alaw_encode_doc},
    {"ulaw_decode", ulaw_decode, METH_O, ulaw_decode_doc},
    {"alaw_decode", alaw_decode, METH_O, alaw_decode_doc},
    {"ulaw_encode_frames", ulaw_encode_frames, METH_O, ulaw_encode_frames_doc},
    {"alaw_encode_frames", alaw_encode_frames, METH_O, alaw_encode_frames_doc},
    {"ulaw_decode_frames", ulaw_decode_frames, METH_O, ulaw_decode_frames_doc},
    {"alaw_decode_frames", alaw_decode_frames, METH_O, alaw_decode_frames_doc},
    {"ulaw2lin", (PyCFunction)(void (*)(void))ulaw2lin, FASTKW, ulaw2lin_doc},
    {"alaw2lin", (PyCFunction)(void (*)(void))alaw2lin, FASTKW, alaw2lin_doc},
    {"lin2ulaw", (PyCFunction)(void (*)(void))lin2ulaw, FASTKW, lin2ulaw_doc},
    {"lin2alaw", (PyCFunction)(void (*)(void))lin2alaw, FASTKW, lin2alaw_doc},
    {"_init", init_tables, METH_VARARGS,
     "_init(ulaw_enc, alaw_enc, ulaw_enc_audioop, ulaw_dec, alaw_dec): load the tables."},
    {"_set_fallbacks", set_fallbacks, METH_O,
     "_set_fallbacks({name: pure_function}): where anything off the fast path goes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_g711_native",
    "Optional C accelerator for G.711 table lookups (see rvoip_sansio/codecs/_g711.py).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__g711_native(void)
{
    PyObject *m;
    import_array();
    m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "ABI", G711_NATIVE_ABI) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
