/* Optional C accelerator for the SRTP AES-CM packet glue (see rvoip_sansio/srtp/_transform.py).
 *
 * No cryptography here: the AES-CM keystream (RFC 3711 section 4.1.1) is made by the
 * `cryptography` package in Python; this module only XORs a packet's payload with its
 * keystream and keeps the header, which in pure Python costs two int <-> bytes conversions,
 * a slice and a concatenation per packet. Every length comes from an attacker-controlled
 * packet, so every offset is checked against its buffer before anything is read.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Must equal _NATIVE_ABI in _transform.py: a build older than its source is not used. */
#define SRTP_NATIVE_ABI 1

PyDoc_STRVAR(xor_tail_doc,
"xor_tail(data, start, end, keystream, ks_offset, /) -> bytes\n\n"
"data[:start] + (data[start:end] XOR keystream[ks_offset:ks_offset + end - start]).\n"
"ValueError when 0 <= start <= end <= len(data) or the keystream span does not hold.");

static PyObject *
xor_tail(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, ks;
    Py_ssize_t start, end, ks_off, length;
    PyObject *out = NULL;
    unsigned char *dst;
    const unsigned char *src, *key;

    (void)self;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "xor_tail takes exactly 5 arguments");
        return NULL;
    }
    start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred())
        return NULL;
    end = PyLong_AsSsize_t(args[2]);
    if (end == -1 && PyErr_Occurred())
        return NULL;
    ks_off = PyLong_AsSsize_t(args[4]);
    if (ks_off == -1 && PyErr_Occurred())
        return NULL;
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[3], &ks, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    /* Bounds: header and payload inside data, the keystream span inside keystream. */
    if (start < 0 || end < start || end > data.len) {
        PyErr_SetString(PyExc_ValueError, "xor_tail: start/end outside the data");
        goto done;
    }
    length = end - start;
    if (ks_off < 0 || ks_off > ks.len || length > ks.len - ks_off) {
        PyErr_SetString(PyExc_ValueError, "xor_tail: keystream shorter than the payload");
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, end);
    if (out == NULL)
        goto done;
    dst = (unsigned char *)PyBytes_AS_STRING(out);
    src = (const unsigned char *)data.buf;
    key = (const unsigned char *)ks.buf + ks_off;
    memcpy(dst, src, (size_t)start);
    dst += start;
    src += start;
    {
        Py_ssize_t i = 0;
        /* Eight bytes at a time through memcpy (no alignment assumptions), then the rest. */
        for (; i + 8 <= length; i += 8) {
            uint64_t a, b;
            memcpy(&a, src + i, 8);
            memcpy(&b, key + i, 8);
            a ^= b;
            memcpy(dst + i, &a, 8);
        }
        for (; i < length; i++)
            dst[i] = src[i] ^ key[i];
    }
done:
    PyBuffer_Release(&ks);
    PyBuffer_Release(&data);
    return out;
}

static PyMethodDef methods[] = {
    {"xor_tail", (PyCFunction)(void (*)(void))xor_tail, METH_FASTCALL, xor_tail_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_srtp_native",
    "Optional C accelerator for the SRTP AES-CM XOR (see rvoip_sansio/srtp/_transform.py).",
    -1,
    methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__srtp_native(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "ABI", SRTP_NATIVE_ABI) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
