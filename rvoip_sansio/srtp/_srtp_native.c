/* Optional C accelerator for SRTP (see rvoip_sansio/srtp/_session.py and _transform.py).
 *
 * - xor_tail: a packet's payload XOR a keystream made in Python (the fallback AES-CM glue).
 * - CmContext: one SRTP direction of an AES-CM + HMAC-SHA1 session with one master key and
 *   no MKI (RFC 3711 sections 3.3, 4.1.1, 4.2, Appendix A), or with gcm=True of an
 *   AEAD_AES_128_GCM / AEAD_AES_256_GCM one (RFC 7714 section 8): protect / unprotect are
 *   one C call per packet doing index estimation, the replay check, the cipher, the tag and,
 *   only once everything succeeded, the commit of the stream state. The per-SSRC state lives
 *   in ReplayWindow objects held by the Python session's stream table, so every other part of
 *   the session (roc(), ssrcs(), remove_ssrc(), SRTCP, batches) sees the same state.
 *   Failures are returned as small ints (RC_*), never raised: the Python caller counts and
 *   raises them as SrtpError.
 *
 * Every length comes from an attacker-controlled packet: every offset is checked against its
 * buffer before anything is read. Crypto primitives are in _srtp_crypto.h.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "_srtp_crypto.h"

/* Must equal _NATIVE_ABI in _transform.py: a build older than its source is not used. */
#define SRTP_NATIVE_ABI 4

/* Results other than bytes (keep in step with _NATIVE_FAILURES in _session.py). */
enum {
    RC_MALFORMED = 1,     /* not an RTP/SRTP packet */
    /* 2: no longer used (was: an index before the stream's first packet) */
    RC_TOO_OLD = 3,       /* REPLAY: older than the window */
    RC_REPEAT = 4,        /* REPLAY: index seen already */
    RC_AUTH = 5,          /* HMAC-SHA1 or GCM tag does not verify */
    RC_KEY_EXHAUSTED = 6, /* the master key reached its packet limit */
    RC_NEW_STREAM = 7,    /* unknown SSRC: the caller applies its stream rules, then retries */
    RC_FALLBACK = 8,      /* a case this module leaves to the Python path */
};

/* A payload whose AES-CM block counter would leave its 16 bits (RFC 3711 section 4.1.1):
 * the Python path refuses it, so it is left to that path (for GCM too: the bound keeps the
 * counter's low 32 bits from carrying, and such packets are no media). */
#define MAX_PAYLOAD ((Py_ssize_t)0x10000 * 16)

static PyObject *str_rtp; /* "rtp": the _Stream slot holding a stream's ReplayWindow */

/* ====================================================================== xor_tail */
PyDoc_STRVAR(xor_tail_doc,
"xor_tail(data, start, end, keystream, ks_offset, /) -> bytes\n\n"
"data[:start] + (data[start:end] XOR keystream[ks_offset:ks_offset + end - start]).\n"
"ValueError when 0 <= start <= end <= len(data) or the keystream span does not hold.");

static PyObject *
xor_tail(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, ks;
    Py_ssize_t start, end, ks_off, length, i;
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
    for (i = 0; i + 8 <= length; i += 8) {
        uint64_t a, b;
        memcpy(&a, src + i, 8);
        memcpy(&b, key + i, 8);
        a ^= b;
        memcpy(dst + i, &a, 8);
    }
    for (; i < length; i++)
        dst[i] = src[i] ^ key[i];
done:
    PyBuffer_Release(&ks);
    PyBuffer_Release(&data);
    return out;
}

/* ================================================================== ReplayWindow */
/* RFC 3711 section 3.3.2: the highest index seen and a bitmap of the `window` indices at and
 * below it; bit k (word k / 64, bit k % 64) says index hi - k was received. */
typedef struct {
    PyObject_VAR_HEAD
    long long hi;
    int window;
    int nwords;
    uint64_t bits[1]; /* nwords words, allocated with the object (one cache line for 128) */
} Replay;

static PyTypeObject Replay_Type;

static Replay *
replay_new(long long first, int window)
{
    int nwords = (window + 63) / 64;
    Replay *rp = PyObject_NewVar(Replay, &Replay_Type, nwords);
    if (rp == NULL)
        return NULL;
    rp->hi = first - 1; /* nothing received yet: the first index is "new" */
    rp->window = window;
    rp->nwords = nwords;
    memset(rp->bits, 0, (size_t)nwords * sizeof(uint64_t));
    return rp;
}

static PyObject *
Replay_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    int window;
    long long first;
    static char *kwlist[] = {"window", "first", NULL};
    (void)type;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iL:ReplayWindow", kwlist, &window, &first))
        return NULL;
    if (window < 64 || window >= 1 << 15) {
        PyErr_SetString(PyExc_ValueError, "replay window must be between 64 and 32767 packets");
        return NULL;
    }
    if (first < 0 || first >= (1LL << 48)) {
        PyErr_SetString(PyExc_ValueError, "first index outside 0 .. 2**48 - 1");
        return NULL;
    }
    return (PyObject *)replay_new(first, window);
}

static void
Replay_dealloc(Replay *rp)
{
    PyObject_Free(rp);
}

/* 0 when index may be accepted, else RC_TOO_OLD / RC_REPEAT (index <= hi only). */
static int
replay_check(const Replay *rp, long long index)
{
    long long k = rp->hi - index;
    if (k < 0)
        return 0;
    if (k >= rp->window)
        return RC_TOO_OLD;
    return (rp->bits[k >> 6] >> (k & 63)) & 1 ? RC_REPEAT : 0;
}

static void
replay_commit(Replay *rp, long long index)
{
    long long delta = index - rp->hi;
    int n = rp->nwords, i;
    if (delta > 0) {
        if (delta >= rp->window) {
            memset(rp->bits, 0, (size_t)n * sizeof(uint64_t));
        } else {
            int ws = (int)(delta >> 6), bs = (int)(delta & 63);
            for (i = n - 1; i >= 0; i--) {
                uint64_t v = 0;
                if (i - ws >= 0)
                    v = rp->bits[i - ws] << bs;
                if (bs && i - ws - 1 >= 0)
                    v |= rp->bits[i - ws - 1] >> (64 - bs);
                rp->bits[i] = v;
            }
            if (rp->window & 63)
                rp->bits[n - 1] &= ((uint64_t)1 << (rp->window & 63)) - 1;
        }
        rp->bits[0] |= 1;
        rp->hi = index;
    } else if (-delta < rp->window) {
        rp->bits[(-delta) >> 6] |= (uint64_t)1 << ((-delta) & 63);
    }
}

static PyObject *
Replay_get_hi(Replay *rp, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(rp->hi);
}

/* An int attribute set from Python into *out, checked to lie in lo .. hi. */
static int
set_bounded(PyObject *value, long long lo, long long hi, long long *out)
{
    long long v;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete this attribute");
        return -1;
    }
    v = PyLong_AsLongLong(value);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < lo || v > hi) {
        PyErr_Format(PyExc_ValueError, "value outside %lld .. %lld", lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int
Replay_set_hi(Replay *rp, PyObject *value, void *closure)
{
    (void)closure;
    return set_bounded(value, -1, (1LL << 48) - 1, &rp->hi);
}

/* bits as a Python int (bit k = index hi - k), as the pure path's _Replay keeps it. */
static PyObject *
Replay_get_bits(Replay *rp, void *closure)
{
    PyObject *raw, *out;
    (void)closure;
    raw = PyBytes_FromStringAndSize((const char *)rp->bits, (Py_ssize_t)rp->nwords * 8);
    if (raw == NULL)
        return NULL;
    out = PyObject_CallMethod((PyObject *)&PyLong_Type, "from_bytes", "Os", raw, "little");
    Py_DECREF(raw);
    return out;
}

static int
Replay_set_bits(Replay *rp, PyObject *value, void *closure)
{
    PyObject *one = NULL, *mask = NULL, *masked = NULL, *raw = NULL, *tmp;
    int rc = -1;
    (void)closure;
    if (value == NULL || !PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "bits must be an int");
        return -1;
    }
    one = PyLong_FromLong(1);
    tmp = one ? PyLong_FromLong(rp->window) : NULL;
    mask = tmp ? PyNumber_Lshift(one, tmp) : NULL;
    Py_XDECREF(tmp);
    if (mask == NULL)
        goto done;
    tmp = PyNumber_Subtract(mask, one);
    Py_SETREF(mask, tmp);
    if (mask == NULL)
        goto done;
    masked = PyNumber_And(value, mask);
    if (masked == NULL)
        goto done;
    raw = PyObject_CallMethod(masked, "to_bytes", "ns", (Py_ssize_t)rp->nwords * 8, "little");
    if (raw == NULL)
        goto done;
    if (!PyBytes_Check(raw) || PyBytes_GET_SIZE(raw) != (Py_ssize_t)rp->nwords * 8) {
        PyErr_SetString(PyExc_ValueError, "bits: unexpected conversion");
        goto done;
    }
    memcpy(rp->bits, PyBytes_AS_STRING(raw), (size_t)rp->nwords * 8);
    rc = 0;
done:
    Py_XDECREF(one);
    Py_XDECREF(mask);
    Py_XDECREF(masked);
    Py_XDECREF(raw);
    return rc;
}

static PyObject *
Replay_copy(Replay *rp, PyObject *noargs)
{
    Replay *c;
    (void)noargs;
    c = replay_new(rp->hi + 1, rp->window);
    if (c != NULL)
        memcpy(c->bits, rp->bits, (size_t)rp->nwords * sizeof(uint64_t));
    return (PyObject *)c;
}

static PyMethodDef Replay_methods[] = {
    {"copy", (PyCFunction)Replay_copy, METH_NOARGS, "an independent copy of this state"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Replay_getset[] = {
    {"hi", (getter)Replay_get_hi, (setter)Replay_set_hi, "highest index received", NULL},
    {"bits", (getter)Replay_get_bits, (setter)Replay_set_bits,
     "received bitmap: bit k is index hi - k", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Replay_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rvoip_sansio.srtp._srtp_native.ReplayWindow",
    .tp_basicsize = offsetof(Replay, bits),
    .tp_itemsize = sizeof(uint64_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ReplayWindow(window, first): SRTP replay state (RFC 3711 section 3.3.2).",
    .tp_new = Replay_tp_new,
    .tp_dealloc = (destructor)Replay_dealloc,
    .tp_getset = Replay_getset,
    .tp_methods = Replay_methods,
};

/* ===================================================================== CmContext */
typedef struct {
    PyObject_HEAD
#if RV_X86
    rv_gcm_key gk; /* the AES key (both modes) and, for GCM, the GHASH key */
#endif
    rv_hmac_key hmac;
    /* AES-CM, RFC 3711 4.1.1: k_s * 2^16 as a 128-bit number; GCM, RFC 7714 8.1: the 96-bit
     * salt as its first 8 bytes (salt_hi) and last 4 (salt_lo) */
    uint64_t salt_hi, salt_lo;
    int gcm;
    int tag_len;
    int window;
    int repeat_ok; /* protect: the same index may be sent again */
    int encrypt;   /* RFC 4568 UNENCRYPTED_SRTP when 0 */
    long long count, limit;
} CmContext;

static PyTypeObject CmContext_Type;

static PyObject *
CmContext_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Py_buffer key, salt, auth;
    int tag_len, window, repeat_ok, encrypt, portable_sha = 0, gcm = 0;
    long long limit;
    CmContext *cx = NULL;
    uint8_t s[16];
    static char *kwlist[] = {"key", "salt", "auth_key", "tag_len", "window", "repeat_ok",
                             "encrypt", "limit", "portable_sha", "gcm", NULL};

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*y*y*iippL|pp:CmContext", kwlist, &key,
                                     &salt, &auth, &tag_len, &window, &repeat_ok, &encrypt,
                                     &limit, &portable_sha, &gcm))
        return NULL;
#if RV_X86
    if (!rv_cpu_aes) {
        PyErr_SetString(PyExc_RuntimeError, "CmContext needs AES-NI");
        goto done;
    }
    if (gcm && !rv_cpu_clmul) {
        PyErr_SetString(PyExc_RuntimeError, "CmContext(gcm=True) needs PCLMULQDQ");
        goto done;
    }
    if ((key.len != 16 && key.len != 24 && key.len != 32) || window < 64 || window >= 1 << 15
        || limit < 0
        || (gcm ? salt.len != 12 || auth.len != 0 || tag_len != 16 || !encrypt
                : salt.len != 14 || auth.len < 1 || auth.len > 64 || tag_len < 1
                      || tag_len > 20)) {
        PyErr_SetString(PyExc_ValueError, "CmContext: bad key, salt, auth key, tag or window");
        goto done;
    }
    cx = (CmContext *)type->tp_alloc(type, 0);
    if (cx == NULL)
        goto done;
    cx->gcm = gcm;
    memset(s, 0, sizeof s);
    memcpy(s, salt.buf, (size_t)salt.len);
    if (gcm) {
        rv_gcm_init(&cx->gk, key.buf, (size_t)key.len);
        cx->salt_hi = rv_be64(s);
        cx->salt_lo = rv_be32(s + 8);
    } else {
        rv_aes_expand(&cx->gk.aes, key.buf, (size_t)key.len);
        rv_hmac_init(&cx->hmac, auth.buf, (size_t)auth.len,
                     rv_cpu_sha && !portable_sha ? rv_sha1_shani : rv_sha1_portable);
        cx->salt_hi = rv_be64(s);
        cx->salt_lo = rv_be64(s + 8);
    }
    memset(s, 0, sizeof s);
    cx->tag_len = tag_len;
    cx->window = window;
    cx->repeat_ok = repeat_ok;
    cx->encrypt = encrypt;
    cx->count = 0;
    cx->limit = limit;
#else
    (void)type, (void)tag_len, (void)window, (void)repeat_ok, (void)encrypt, (void)limit;
    (void)portable_sha, (void)s, (void)gcm;
    PyErr_SetString(PyExc_RuntimeError, "CmContext needs AES-NI (x86-64)");
#endif
done:
    PyBuffer_Release(&key);
    PyBuffer_Release(&salt);
    PyBuffer_Release(&auth);
    return (PyObject *)cx;
}

static void
CmContext_dealloc(CmContext *cx)
{
    /* Scrub the key material before the memory goes back. */
    memset((char *)cx + sizeof(PyObject), 0, sizeof(CmContext) - sizeof(PyObject));
    Py_TYPE(cx)->tp_free((PyObject *)cx);
}

/* RTP header length with CSRCs and extension (RFC 3550 5.1, 5.3.1); 0 if malformed. */
static Py_ssize_t
rtp_header_len(const uint8_t *p, Py_ssize_t n)
{
    Py_ssize_t hlen;
    if (n < 12 || p[0] >> 6 != 2)
        return 0;
    hlen = 12 + 4 * (Py_ssize_t)(p[0] & 0x0F);
    if (p[0] & 0x10) {
        if (n < hlen + 4)
            return 0;
        hlen += 4 + 4 * (Py_ssize_t)((p[hlen + 2] << 8) | p[hlen + 3]);
    }
    return hlen <= n ? hlen : 0;
}

/* RFC 3711 Appendix A: the index of sequence number seq given the highest index hi. The
 * ROC never goes below 0: a packet Appendix A would put at ROC -1 (more than 2^15 ahead of
 * the first packets) is taken at ROC 0, as libsrtp does while the index is below 2^15. */
static long long
estimate_index(long long hi, unsigned int seq)
{
    long long roc = hi >> 16, v;
    long long s_l = hi & 0xFFFF;
    if (s_l < 0x8000)
        v = (long long)seq - s_l > 0x8000 && roc > 0 ? roc - 1 : roc;
    else
        v = s_l - 0x8000 > (long long)seq ? roc + 1 : roc;
    return v * 65536 + seq;
}

/* The shared body of protect and unprotect. */
static PyObject *
cm_transform(CmContext *cx, PyObject *const *args, Py_ssize_t nargs, int outbound)
{
    Py_buffer view;
    const uint8_t *p;
    Py_ssize_t n, hlen, end;
    PyObject *table, *fresh, *ssrc_obj = NULL, *st, *rp_obj = NULL, *out = NULL;
    Replay *rp = NULL;
    unsigned int seq;
    uint32_t ssrc;
    long long index;
    int rc = 0, adopt = 0;
    uint8_t roc[4], tag[20];

    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "takes exactly 3 arguments (data, table, fresh)");
        return NULL;
    }
    table = args[1];
    fresh = args[2];
    if (!PyDict_CheckExact(table)) {
        PyErr_SetString(PyExc_TypeError, "table must be a dict");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    p = view.buf;
    n = view.len;
    hlen = rtp_header_len(p, n);
    end = outbound ? n : n - cx->tag_len;
    if (!hlen || end < hlen) {
        rc = RC_MALFORMED;
        goto done;
    }
    if (end - hlen > MAX_PAYLOAD) {
        rc = RC_FALLBACK;
        goto done;
    }
    if (cx->count >= cx->limit) {
        rc = RC_KEY_EXHAUSTED;
        goto done;
    }
    seq = ((unsigned int)p[2] << 8) | p[3];
    ssrc = rv_be32(p + 8);
    ssrc_obj = PyLong_FromUnsignedLong(ssrc);
    if (ssrc_obj == NULL)
        goto done;
    st = PyDict_GetItemWithError(table, ssrc_obj); /* borrowed */
    if (st == NULL) {
        if (PyErr_Occurred())
            goto done;
        if (fresh == Py_None) {
            rc = RC_NEW_STREAM;
            goto done;
        }
        st = fresh;
        adopt = 1;
    }
    rp_obj = PyObject_GetAttr(st, str_rtp);
    if (rp_obj == NULL)
        goto done;
    if (rp_obj == Py_None) {
        index = seq; /* first packet: ROC 0 (RFC 3711 3.3.1) */
    } else if (Py_TYPE(rp_obj) == &Replay_Type && ((Replay *)rp_obj)->window == cx->window) {
        rp = (Replay *)rp_obj;
        index = estimate_index(rp->hi, seq);
        if (index <= rp->hi) {
            if (!(outbound && cx->repeat_ok) && (rc = replay_check(rp, index)) != 0)
                goto done;
        }
    } else {
        rc = RC_FALLBACK; /* a pure-path _Replay: the Python code handles it */
        goto done;
    }
    rv_put_be32(roc, (uint32_t)(index >> 16));
#if RV_X86
    {
        /* RFC 3711 4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16). */
        uint64_t iv_hi = cx->salt_hi ^ ssrc, iv_lo = cx->salt_lo ^ ((uint64_t)index << 16);
        uint8_t *dst;
        out = PyBytes_FromStringAndSize(NULL, outbound ? n + cx->tag_len : end);
        if (out == NULL)
            goto done;
        dst = (uint8_t *)PyBytes_AS_STRING(out);
        if (cx->gcm) {
            /* RFC 7714 8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt; 8.2: the header
             * (with CSRCs and extension) is the AAD, the 16-byte tag follows the payload. */
            uint8_t iv[12];
            uint64_t head = cx->salt_hi ^ ((uint64_t)ssrc << 16) ^ ((uint64_t)index >> 32);
            rv_put_be32(iv, (uint32_t)(head >> 32));
            rv_put_be32(iv + 4, (uint32_t)head);
            rv_put_be32(iv + 8, (uint32_t)cx->salt_lo ^ (uint32_t)index);
            memcpy(dst, p, (size_t)hlen);
            if (outbound) {
                rv_gcm_seal(&cx->gk, iv, p, (size_t)hlen, p + hlen, (size_t)(n - hlen),
                            dst + hlen, dst + n);
            } else if (rv_gcm_open(&cx->gk, iv, p, (size_t)hlen, p + hlen, (size_t)(end - hlen),
                                   p + end, dst + hlen) < 0) {
                rc = RC_AUTH; /* RFC 7714 8.2: nothing is released or committed */
                goto done;
            }
        } else if (outbound) {
            /* RFC 3711 3.3: encrypt the payload, then the tag over header || payload || ROC. */
            memcpy(dst, p, (size_t)hlen);
            if (cx->encrypt)
                rv_aes_ctr_xor(&cx->gk.aes, iv_hi, iv_lo, p + hlen, dst + hlen,
                               (size_t)(n - hlen));
            else
                memcpy(dst + hlen, p + hlen, (size_t)(n - hlen));
            rv_hmac(&cx->hmac, dst, (size_t)n, roc, 4, tag);
            memcpy(dst + n, tag, (size_t)cx->tag_len);
        } else {
            /* RFC 3711 3.3 step 5: verify the tag before anything else is done. */
            rv_hmac(&cx->hmac, p, (size_t)end, roc, 4, tag);
            if (!rv_tags_equal(tag, p + end, (size_t)cx->tag_len)) {
                rc = RC_AUTH;
                goto done;
            }
            memcpy(dst, p, (size_t)hlen);
            if (cx->encrypt)
                rv_aes_ctr_xor(&cx->gk.aes, iv_hi, iv_lo, p + hlen, dst + hlen,
                               (size_t)(end - hlen));
            else
                memcpy(dst + hlen, p + hlen, (size_t)(end - hlen));
        }
    }
#else
    rc = RC_FALLBACK;
    goto done;
#endif
    /* Done and authenticated: now, and only now, the window, ROC and count move. */
    if (rp == NULL) {
        rp = replay_new(index, cx->window);
        if (rp == NULL || PyObject_SetAttr(st, str_rtp, (PyObject *)rp) < 0) {
            Py_XDECREF(rp);
            rp = NULL;
            Py_CLEAR(out);
            goto done;
        }
        Py_SETREF(rp_obj, (PyObject *)rp);
    }
    if (adopt && PyDict_SetItem(table, ssrc_obj, st) < 0) {
        Py_CLEAR(out);
        goto done;
    }
    replay_commit(rp, index);
    cx->count++;
done:
    PyBuffer_Release(&view);
    Py_XDECREF(ssrc_obj);
    Py_XDECREF(rp_obj);
    if (rc) {
        Py_XDECREF(out);
        return PyLong_FromLong(rc);
    }
    return out;
}

static PyObject *
CmContext_protect(CmContext *cx, PyObject *const *args, Py_ssize_t nargs)
{
    return cm_transform(cx, args, nargs, 1);
}

static PyObject *
CmContext_unprotect(CmContext *cx, PyObject *const *args, Py_ssize_t nargs)
{
    return cm_transform(cx, args, nargs, 0);
}

static PyObject *
CmContext_get_count(CmContext *cx, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(cx->count);
}

static int
CmContext_set_count(CmContext *cx, PyObject *value, void *closure)
{
    (void)closure;
    return set_bounded(value, 0, LLONG_MAX, &cx->count);
}

static PyMethodDef CmContext_methods[] = {
    {"protect", (PyCFunction)(void (*)(void))CmContext_protect, METH_FASTCALL,
     "protect(rtp, table, fresh, /) -> bytes | int: RTP -> SRTP, or an RC_* failure code"},
    {"unprotect", (PyCFunction)(void (*)(void))CmContext_unprotect, METH_FASTCALL,
     "unprotect(srtp, table, fresh, /) -> bytes | int: SRTP -> RTP, or an RC_* failure code"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef CmContext_getset[] = {
    {"count", (getter)CmContext_get_count, (setter)CmContext_set_count,
     "packets processed under this key", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject CmContext_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rvoip_sansio.srtp._srtp_native.CmContext",
    .tp_basicsize = sizeof(CmContext),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One SRTP direction, one master key: AES-CM + HMAC-SHA1 (RFC 3711) or, with "
              "gcm=True, AES-GCM (RFC 7714).",
    .tp_new = CmContext_tp_new,
    .tp_dealloc = (destructor)CmContext_dealloc,
    .tp_methods = CmContext_methods,
    .tp_getset = CmContext_getset,
};

/* ============================================================ test entries, CPU */
#include "_srtp_test_entries.h" /* cpu_features, _sha1, _hmac_sha1, _aes_ctr, _aes_gcm */

static PyMethodDef methods[] = {
    {"xor_tail", (PyCFunction)(void (*)(void))xor_tail, METH_FASTCALL, xor_tail_doc},
    {"cpu_features", cpu_features, METH_NOARGS,
     "(AES-NI, SHA-NI, PCLMULQDQ) as this CPU has them"},
    {"_sha1", t_sha1, METH_VARARGS, "test entry: SHA-1 (portable C or SHA-NI)"},
    {"_hmac_sha1", t_hmac_sha1, METH_VARARGS, "test entry: HMAC-SHA1"},
    {"_aes_ctr", t_aes_ctr, METH_VARARGS, "test entry: AES counter mode (AES-NI)"},
    {"_aes_gcm", t_aes_gcm, METH_VARARGS, "test entry: AES-GCM, 96-bit IV (PCLMULQDQ)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_srtp_native",
    "Optional C accelerator for SRTP AES-CM + HMAC-SHA1 and AES-GCM (see _session.py).",
    -1,
    methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__srtp_native(void)
{
    PyObject *m;
    rv_detect_cpu();
    if (PyType_Ready(&Replay_Type) < 0 || PyType_Ready(&CmContext_Type) < 0)
        return NULL;
    str_rtp = PyUnicode_InternFromString("rtp");
    if (str_rtp == NULL)
        return NULL;
    m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "ABI", SRTP_NATIVE_ABI) < 0
        || PyModule_AddObjectRef(m, "ReplayWindow", (PyObject *)&Replay_Type) < 0
        || PyModule_AddObjectRef(m, "CmContext", (PyObject *)&CmContext_Type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
