/* The accelerator's CPU report and its private test entries (the primitives of
 * _srtp_crypto.h on their own, for the standards' vectors in tests/srtp), for
 * _srtp_native.c (the only includer, after its own definitions).
 */
#ifndef RVOIP_SRTP_TEST_ENTRIES_H
#define RVOIP_SRTP_TEST_ENTRIES_H

static PyObject *
cpu_features(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    return Py_BuildValue("(OOO)", rv_cpu_aes ? Py_True : Py_False,
                         rv_cpu_sha ? Py_True : Py_False, rv_cpu_clmul ? Py_True : Py_False);
}

static rv_sha1_blocks_fn
pick_sha(int portable)
{
#if RV_X86
    if (rv_cpu_sha && !portable)
        return rv_sha1_shani;
#endif
    (void)portable;
    return rv_sha1_portable;
}

/* _sha1(data, portable, /) -> 20-byte digest (FIPS 180-4). */
static PyObject *
t_sha1(PyObject *self, PyObject *args)
{
    Py_buffer d;
    int portable;
    uint32_t st[5];
    uint8_t out[20];
    rv_sha1_blocks_fn f;
    size_t full;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*p:_sha1", &d, &portable))
        return NULL;
    f = pick_sha(portable);
    memcpy(st, rv_sha1_iv, sizeof st);
    full = (size_t)d.len / 64;
    f(st, d.buf, full);
    rv_sha1_finish(f, st, (const uint8_t *)d.buf + full * 64, (size_t)d.len - full * 64,
                   (uint64_t)d.len, out);
    PyBuffer_Release(&d);
    return PyBytes_FromStringAndSize((const char *)out, 20);
}

/* _hmac_sha1(key, data, portable, /) -> 20-byte HMAC (RFC 2104). */
static PyObject *
t_hmac_sha1(PyObject *self, PyObject *args)
{
    Py_buffer k, d;
    int portable;
    rv_hmac_key h;
    uint8_t out[20];
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*p:_hmac_sha1", &k, &d, &portable))
        return NULL;
    rv_hmac_init(&h, k.buf, (size_t)k.len, pick_sha(portable));
    rv_hmac(&h, d.buf, (size_t)d.len, NULL, 0, out);
    PyBuffer_Release(&k);
    PyBuffer_Release(&d);
    return PyBytes_FromStringAndSize((const char *)out, 20);
}

/* _aes_ctr(key, counter, data, /) -> data XOR E(k, counter) || E(k, counter + 1) || ...
 * (SP 800-38A CTR with a 128-bit counter; one block of zeros gives FIPS 197 ECB). */
static PyObject *
t_aes_ctr(PyObject *self, PyObject *args)
{
    Py_buffer k, c, d;
    PyObject *out = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*:_aes_ctr", &k, &c, &d))
        return NULL;
#if RV_X86
    if (!rv_cpu_aes) {
        PyErr_SetString(PyExc_RuntimeError, "no AES-NI");
    } else if ((k.len != 16 && k.len != 24 && k.len != 32) || c.len != 16) {
        PyErr_SetString(PyExc_ValueError, "_aes_ctr: key of 16/24/32 bytes, counter of 16");
    } else {
        rv_aes_key key;
        rv_aes_expand(&key, k.buf, (size_t)k.len);
        out = PyBytes_FromStringAndSize(NULL, d.len);
        if (out != NULL)
            rv_aes_ctr_xor(&key, rv_be64(c.buf), rv_be64((const uint8_t *)c.buf + 8), d.buf,
                           (uint8_t *)PyBytes_AS_STRING(out), (size_t)d.len);
        memset(&key, 0, sizeof key);
    }
#else
    PyErr_SetString(PyExc_RuntimeError, "no AES-NI");
#endif
    PyBuffer_Release(&k);
    PyBuffer_Release(&c);
    PyBuffer_Release(&d);
    return out;
}

/* _aes_gcm(key, iv, aad, data, open, /) -> C || tag (seal), or P / None for a tag that does
 * not verify (open: data is C || tag): SP 800-38D with a 96-bit IV. */
static PyObject *
t_aes_gcm(PyObject *self, PyObject *args)
{
    Py_buffer k, iv, a, d;
    int open;
    PyObject *out = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*y*p:_aes_gcm", &k, &iv, &a, &d, &open))
        return NULL;
#if RV_X86
    if (!rv_cpu_clmul) {
        PyErr_SetString(PyExc_RuntimeError, "no AES-NI with PCLMULQDQ");
    } else if ((k.len != 16 && k.len != 24 && k.len != 32) || iv.len != 12
               || (open && d.len < 16) || d.len > MAX_PAYLOAD) {
        PyErr_SetString(PyExc_ValueError, "_aes_gcm: key of 16/24/32 bytes, IV of 12");
    } else {
        rv_gcm_key key;
        Py_ssize_t len = open ? d.len - 16 : d.len;
        const uint8_t *in = d.buf;
        rv_gcm_init(&key, k.buf, (size_t)k.len);
        out = PyBytes_FromStringAndSize(NULL, open ? len : len + 16);
        if (out != NULL) {
            uint8_t *o = (uint8_t *)PyBytes_AS_STRING(out);
            if (!open)
                rv_gcm_seal(&key, iv.buf, a.buf, (size_t)a.len, in, (size_t)len, o, o + len);
            else if (rv_gcm_open(&key, iv.buf, a.buf, (size_t)a.len, in, (size_t)len, in + len,
                                 o) < 0)
                Py_SETREF(out, Py_NewRef(Py_None));
        }
        memset(&key, 0, sizeof key);
    }
#else
    (void)open;
    PyErr_SetString(PyExc_RuntimeError, "no AES-NI with PCLMULQDQ");
#endif
    PyBuffer_Release(&k);
    PyBuffer_Release(&iv);
    PyBuffer_Release(&a);
    PyBuffer_Release(&d);
    return out;
}

#endif /* RVOIP_SRTP_TEST_ENTRIES_H */
