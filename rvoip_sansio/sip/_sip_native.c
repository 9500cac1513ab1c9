/* Optional C accelerator for SIP parsing (rvoip_sansio.sip._sip_native; docs/sip.md).
 *
 * parse_message(data) builds the Request/Response of the usual datagram itself (exactly bytes,
 * SIP/2.0, ASCII header section, unfolded well-formed lines, at most one well-formed
 * Content-Length, a body at least that long), in raw mode, as _parser.py's pure parser does.
 * What it accepts is a strict subset of what the pure fast path's regex (_scan.REQUEST_RE /
 * RESPONSE_RE, RFC 3261 §7.1, §7.2, §7.3.1, §25.1) accepts; anything else, or any doubt, goes
 * to the pure parse_message given to _init(), so results and ParseErrors are the pure path's.
 * On the way it reads the first Via, CSeq, Call-ID, From and To values when they have the
 * shape of _headers.VIA_BODY / NAME_ADDR_BODY (each possessive quantifier a plain loop here)
 * and fills the caches with the objects the lazy accessors would build; another shape is left
 * to the accessor. fast_property() replaces a property whose first step returns a cached slot
 * (or an item of the lazy tuple in it) by a C descriptor that reads it, else calls the
 * property's getter (CPython spends ~700 instructions on a property read). set_enabled(False)
 * sends everything to the pure code; tests/sip/test_native.py checks both paths agree. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdint.h>
#include <string.h>

/* Bumped whenever _init or the descriptors change, so that a stale build is not used. */
#define SIP_NATIVE_ABI 1

/* ---- character classes (RFC 3261 §25.1) ------------------------------------------------ */

enum {
    C_TOKEN = 1,  /* token: alphanum and -.!%*_+`'~ */
    C_LTOKEN = 2, /* lower-case token character (parameter names on the fast path) */
    C_URI = 4,    /* inside <>: printable ASCII but SP " < > */
    C_SPEC = 8,   /* addr-spec after the scheme: printable ASCII but SP " , ; < > ? */
    C_SCHEME = 16, /* scheme characters after the first: alphanum + - . */
    C_ALPHA = 32,
    C_DIGIT = 64,
    C_STOP = 128, /* CR, LF or a non-ASCII octet: ends a line scan */
};

static unsigned char cls[256];

static void init_classes(void)
{
    for (int c = 0; c < 256; c++) {
        unsigned char f = 0;
        int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        int digit = c >= '0' && c <= '9';
        int tokpunct = c != 0 && strchr("-.!%*_+`'~", c) != NULL;
        if (alpha || digit || tokpunct)
            f |= C_TOKEN;
        if ((c >= 'a' && c <= 'z') || digit || tokpunct)
            f |= C_LTOKEN;
        /* [!#-;=?-~] */
        if (c == '!' || (c >= '#' && c <= ';') || c == '=' || (c >= '?' && c <= '~'))
            f |= C_URI;
        /* [!#-+\--:=@-~] */
        if (c == '!' || (c >= '#' && c <= '+') || (c >= '-' && c <= ':') || c == '=' ||
            (c >= '@' && c <= '~'))
            f |= C_SPEC;
        if (alpha || digit || c == '+' || c == '-' || c == '.')
            f |= C_SCHEME;
        f |= (alpha ? C_ALPHA : 0) | (digit ? C_DIGIT : 0);
        if (c == '\r' || c == '\n' || c >= 0x80)
            f |= C_STOP;
        cls[c] = f;
    }
}

#define IS(c, k) (cls[(unsigned char)(c)] & (k))

typedef struct { Py_ssize_t a, b; } Span; /* [a, b); a < 0: the group did not participate */

static const Span NOSPAN = {-1, -1};

static int has_lit(const char *s, Py_ssize_t p, Py_ssize_t e, const char *lit, Py_ssize_t n)
{ return e - p >= n && memcmp(s + p, lit, (size_t)n) == 0; }

static Py_ssize_t run(const char *s, Py_ssize_t p, int k)
{ while (IS(s[p], k)) p++; return p; }

static Py_ssize_t skip_ws(const char *s, Py_ssize_t p)
{ while (s[p] == ' ' || s[p] == '\t') p++; return p; }

/* `d{1,max}+` at p: the end of the digits taken, or -1 when there is none. */
static Py_ssize_t digits(const char *s, Py_ssize_t p, Py_ssize_t max)
{
    Py_ssize_t q = p;
    while (q - p < max && IS(s[q], C_DIGIT))
        q++;
    return q == p ? -1 : q;
}

/* ---- hot header values ----------------------------------------------------------------
 * Each reader gets the value [v, e) (s[e] is the CR ending the line) and returns 1 with its
 * groups filled when the value has the fast shape, else 0. Groups are those of the regexes
 * in _headers.py; a parameter captured twice is refused (the regex keeps the last one). */

typedef struct { Span transport, host, port, rest, branch, rport, ttl; } ViaGroups;

/* `[0-9]{1,3}+(?:\.[0-9]{1,3}+){3}` at p: its end, or -1. */
static Py_ssize_t ipv4(const char *s, Py_ssize_t p)
{
    for (int k = 0; k < 4; k++) {
        if (k > 0) {
            if (s[p] != '.')
                return -1;
            p++;
        }
        p = digits(s, p, 3);
        if (p < 0)
            return -1;
    }
    return p;
}

/* A generic fast parameter after ';' at p: `(?!excluded(?!LN))LN++(?:=T++)?`; its end or -1.
 * `excluded` are the names with their own alternative (NULL-terminated). */
static Py_ssize_t generic_param(const char *s, Py_ssize_t p, const char *const *excluded)
{
    Py_ssize_t q = run(s, p, C_LTOKEN);
    if (q == p)
        return -1;
    for (; *excluded != NULL; excluded++) {
        Py_ssize_t n = (Py_ssize_t)strlen(*excluded);
        if (q - p == n && memcmp(s + p, *excluded, (size_t)n) == 0)
            return -1;
    }
    if (s[q] == '=' && IS(s[q + 1], C_TOKEN))
        q = run(s, q + 1, C_TOKEN);
    return q;
}

static const char *const VIA_NAMES[] = {"branch", "received", "rport", "ttl", NULL};
static const char *const NAME_ADDR_NAMES[] = {"tag", NULL};

/* `[ \t]*+ SIP/2\.0/([A-Za-z]++) (host)(?::([0-9]{1,5}+))?(params)[ \t]*+(?=[\r,])` */
static int read_via(const char *s, Py_ssize_t v, Py_ssize_t e, ViaGroups *g)
{
    Py_ssize_t p = skip_ws(s, v), q;
    *g = (ViaGroups){NOSPAN, NOSPAN, NOSPAN, NOSPAN, NOSPAN, NOSPAN, NOSPAN};
    if (!has_lit(s, p, e, "SIP/2.0/", 8))
        return 0;
    p += 8;
    q = run(s, p, C_ALPHA);
    if (q == p || s[q] != ' ')
        return 0;
    g->transport = (Span){p, q};
    p = q + 1;
    /* [A-Za-z0-9]++(?:[.\-][A-Za-z0-9]++)*+\.? */
    q = run(s, p, C_ALPHA | C_DIGIT);
    if (q == p)
        return 0;
    while ((s[q] == '.' || s[q] == '-') && IS(s[q + 1], C_ALPHA | C_DIGIT))
        q = run(s, q + 1, C_ALPHA | C_DIGIT);
    if (s[q] == '.')
        q++;
    g->host = (Span){p, q};
    p = q;
    if (s[p] == ':') {
        q = digits(s, p + 1, 5);
        if (q < 0)
            return 0;
        g->port = (Span){p + 1, q};
        p = q;
    }
    g->rest.a = p;
    while (s[p] == ';') {
        Py_ssize_t n = p + 1;
        if (has_lit(s, n, e, "branch=", 7) && IS(s[n + 7], C_TOKEN)) {
            if (g->branch.a >= 0)
                return 0;
            p = run(s, n + 7, C_TOKEN);
            g->branch = (Span){n + 7, p};
        } else if (has_lit(s, n, e, "received=", 9) && (q = ipv4(s, n + 9)) >= 0) {
            p = q;
        } else if (has_lit(s, n, e, "rport", 5)) {
            if (g->rport.a == -2 || g->rport.a >= 0)
                return 0;
            p = n + 5;
            g->rport.a = -2; /* seen, without a value so far */
            if (s[p] == '=' && (q = digits(s, p + 1, 5)) >= 0) {
                g->rport = (Span){p + 1, q};
                p = q;
            }
        } else if (has_lit(s, n, e, "ttl=", 4) && (q = digits(s, n + 4, 3)) >= 0) {
            if (g->ttl.a >= 0)
                return 0;
            g->ttl = (Span){n + 4, q};
            p = q;
        } else {
            p = generic_param(s, n, VIA_NAMES);
            if (p < 0)
                return 0;
        }
    }
    if (g->rport.a == -2)
        g->rport = NOSPAN;
    g->rest.b = p;
    p = skip_ws(s, p);
    return p == e || s[p] == ',';
}

typedef struct { Span before, quoted, tokens, uri, spec, rest, tag; } NameAddrGroups;

/* `[ \t]*+ (name-addr | addr-spec) (params) [ \t]*+(?=\r)` with the groups of NAME_ADDR_BODY. */
static int read_name_addr(const char *s, Py_ssize_t v, Py_ssize_t e, NameAddrGroups *g)
{
    Py_ssize_t start = skip_ws(s, v), p = start, q;
    *g = (NameAddrGroups){NOSPAN, NOSPAN, NOSPAN, NOSPAN, NOSPAN, NOSPAN, NOSPAN};
    if (s[p] == '"') {
        /* "([^"\\\r\n]*+)" ? then < (nothing else can match a value starting with a quote) */
        q = p + 1;
        while (q < e && s[q] != '"' && s[q] != '\\')
            q++;
        if (q >= e || s[q] != '"')
            return 0;
        g->quoted = (Span){p + 1, q};
        p = q + 1;
        if (s[p] == ' ')
            p++;
        if (s[p] != '<')
            return 0;
        g->before = (Span){start, p};
    } else if (IS(s[p], C_TOKEN)) {
        /* (T++(?: T++)*+) ? then <; otherwise only an addr-spec can match */
        q = run(s, p, C_TOKEN);
        while (s[q] == ' ' && IS(s[q + 1], C_TOKEN))
            q = run(s, q + 1, C_TOKEN);
        g->tokens = (Span){p, q};
        if (s[q] == ' ')
            q++;
        if (s[q] == '<') {
            g->before = (Span){start, q};
            p = q;
        } else {
            g->tokens = NOSPAN;
            goto addr_spec;
        }
    } else {
        g->before = (Span){start, start};
    }
    if (s[p] != '<')
        goto addr_spec;
    q = run(s, p + 1, C_URI);
    if (q == p + 1 || s[q] != '>')
        goto addr_spec;
    g->uri = (Span){p + 1, q};
    p = q + 1;
    goto params;
addr_spec:
    /* [A-Za-z][A-Za-z0-9+\-.]*+:[!#-+\--:=@-~]++ */
    g->before = g->quoted = g->tokens = g->uri = NOSPAN;
    p = start;
    if (!IS(s[p], C_ALPHA))
        return 0;
    q = run(s, p + 1, C_SCHEME);
    if (s[q] != ':')
        return 0;
    p = run(s, q + 1, C_SPEC);
    if (p == q + 1)
        return 0;
    g->spec = (Span){start, p};
params:
    g->rest.a = p;
    while (s[p] == ';') {
        Py_ssize_t n = p + 1;
        if (has_lit(s, n, e, "tag=", 4) && IS(s[n + 4], C_TOKEN)) {
            if (g->tag.a >= 0)
                return 0;
            p = run(s, n + 4, C_TOKEN);
            g->tag = (Span){n + 4, p};
        } else {
            p = generic_param(s, n, NAME_ADDR_NAMES);
            if (p < 0)
                return 0;
        }
    }
    g->rest.b = p;
    return skip_ws(s, p) == e;
}

/* ---- objects -------------------------------------------------------------------------- */

static int enabled = 1;
static PyObject *fallback;      /* the pure parse_message */
static PyTypeObject *request_type, *response_type, *cseq_type, *via_type, *name_addr_type;
static PyObject *sip20;         /* "SIP/2.0" */

/* Slot offsets, from the classes' member descriptors. */
enum {
    S_TEXT, S_HEND, S_GROUPS, S_LINES, S_NAMES, S_BODY, S_RAW, S_VERSION,
    S_C_VIA, S_C_TOP_VIA, S_C_CSEQ, S_C_FROM, S_C_TO, S_C_CALL_ID, S_C_CONTACT,
    S_METHOD, S_URI_TEXT, S_URI, S_STATUS_CODE, S_REASON,
    S_CSEQ_NUMBER, S_CSEQ_METHOD, S_VIA_LAZY, S_NAME_ADDR_LAZY, N_SLOTS
};
static const char *const slot_names[N_SLOTS] = {
    "Message._text", "Message._hend", "Message._groups", "Message._lines", "Message._names",
    "Message._body", "Message._raw", "Message._version", "Message._c_via",
    "Message._c_top_via", "Message._c_cseq", "Message._c_from", "Message._c_to",
    "Message._c_call_id", "Message._c_contact", "Request._method", "Request._uri_text",
    "Request._uri", "Response._status_code", "Response._reason", "CSeq.number", "CSeq.method",
    "Via._lazy", "NameAddr._lazy",
};
static Py_ssize_t slot_offset[N_SLOTS];

/* Store a new reference in an empty slot of a new object (steals `value`). */
static void put(PyObject *obj, int slot, PyObject *value)
{ Py_XSETREF(*(PyObject **)((char *)obj + slot_offset[slot]), value); }

/* A str of octets already known to be ASCII (every span here lies in the checked header
 * section): copied, not decoded again (one- and zero-character strings are CPython's). */
static PyObject *ascii_str(const char *s, Py_ssize_t n)
{
    PyObject *str;
    if (n <= 1)
        return PyUnicode_DecodeASCII(s, n, NULL);
    str = PyUnicode_New(n, 127);
    if (str != NULL)
        memcpy(PyUnicode_1BYTE_DATA(str), s, (size_t)n);
    return str;
}

/* A tuple of the given spans' text (None for a span that did not participate). */
static PyObject *spans_tuple(const char *s, const Span *spans, int n)
{
    PyObject *t = PyTuple_New(n);
    if (t == NULL)
        return NULL;
    for (int i = 0; i < n; i++) {
        PyObject *item = spans[i].a < 0 ? Py_NewRef(Py_None)
                                        : ascii_str(s + spans[i].a, spans[i].b - spans[i].a);
        if (item == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, item);
    }
    return t;
}

static PyObject *new_lazy(PyTypeObject *type, int slot, const char *s, const Span *spans)
{
    PyObject *obj = type->tp_alloc(type, 0);
    if (obj != NULL) {
        put(obj, slot, spans_tuple(s, spans, 7));
        if (PyErr_Occurred())
            Py_CLEAR(obj);
    }
    return obj;
}

/* Digit strings of the longest allowed length compare like their numbers (via_from_groups). */
static int over(const char *s, Span sp, Py_ssize_t len, const char *limit)
{
    return sp.a >= 0 && sp.b - sp.a == len && memcmp(s + sp.a, limit, (size_t)len) > 0;
}

static PyObject *make_via(const char *s, const ViaGroups *g)
{
    if (over(s, g->port, 5, "65535") || over(s, g->rport, 5, "65535") ||
        over(s, g->ttl, 3, "255"))
        Py_RETURN_NONE; /* the accessor's general path reports it */
    return new_lazy(via_type, S_VIA_LAZY, s, (const Span *)g);
}

/* `[ \t]*+([0-9]{1,10}+)[ \t]++(T++)[ \t]*+(?=\r)` -> CSeq, or None when not in that shape. */
static PyObject *make_cseq(const char *s, Py_ssize_t v, Py_ssize_t e)
{
    Py_ssize_t p = skip_ws(s, v), q = run(s, p, C_DIGIT), m;
    unsigned long long n = 0;
    PyObject *obj;
    if (q == p || q - p > 10)
        Py_RETURN_NONE;
    for (Py_ssize_t i = p; i < q; i++)
        n = n * 10 + (unsigned long long)(s[i] - '0');
    m = skip_ws(s, q);
    if (m == q)
        Py_RETURN_NONE;
    q = run(s, m, C_TOKEN);
    if (q == m || skip_ws(s, q) != e || n >= 2147483648ULL) /* RFC 3261 §8.1.1.5 */
        Py_RETURN_NONE;
    obj = cseq_type->tp_alloc(cseq_type, 0);
    if (obj != NULL) {
        put(obj, S_CSEQ_NUMBER, PyLong_FromUnsignedLongLong(n));
        put(obj, S_CSEQ_METHOD, ascii_str(s + m, q - m));
        if (PyErr_Occurred()) /* (none is pending when parse_message starts) */
            Py_CLEAR(obj);
    }
    return obj;
}

/* Call-ID: the value between optional SP/HT when it is visible ASCII only, else None. */
static PyObject *make_call_id(const char *s, Py_ssize_t v, Py_ssize_t e)
{
    Py_ssize_t a = skip_ws(s, v), b = e;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
        b--;
    if (a == b)
        Py_RETURN_NONE;
    for (Py_ssize_t i = a; i < b; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            Py_RETURN_NONE;
    return ascii_str(s + a, b - a);
}

static PyObject *make_name_addr(const char *s, Py_ssize_t v, Py_ssize_t e)
{
    NameAddrGroups g;
    if (!read_name_addr(s, v, e, &g))
        Py_RETURN_NONE;
    return new_lazy(name_addr_type, S_NAME_ADDR_LAZY, s, (const Span *)&g);
}

/* ---- the message scan ----------------------------------------------------------------- */

enum { H_OTHER, H_VIA, H_CSEQ, H_CALL_ID, H_FROM, H_TO, H_CL, N_HOT };

/* Which hot header a name is (ASCII case-insensitive, compact forms, RFC 3261 §7.3.3). */
static int hot_header(const char *s, Py_ssize_t n)
{
    char low[16];
    if (n > 14)
        return H_OTHER;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = s[i];
        low[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
#define EQ(lit) (n == (Py_ssize_t)sizeof(lit) - 1 && memcmp(low, lit, sizeof(lit) - 1) == 0)
    switch (low[0]) {
    case 'v':
        return (EQ("v") || EQ("via")) ? H_VIA : H_OTHER;
    case 'c':
        return EQ("cseq") ? H_CSEQ : EQ("call-id") ? H_CALL_ID
             : EQ("content-length") ? H_CL : H_OTHER;
    case 'i':
        return EQ("i") ? H_CALL_ID : H_OTHER;
    case 'f':
        return (EQ("f") || EQ("from")) ? H_FROM : H_OTHER;
    case 't':
        return (EQ("t") || EQ("to")) ? H_TO : H_OTHER;
    case 'l':
        return EQ("l") ? H_CL : H_OTHER;
    }
#undef EQ
    return H_OTHER;
}

/* The hot values, when they have the usual shape (else None: the accessor decides). */
static int fill_hot(PyObject *msg, const char *s, Py_ssize_t val[][2])
{
    static const int slot_of[N_HOT] = {0, S_C_TOP_VIA, S_C_CSEQ, S_C_CALL_ID, S_C_FROM, S_C_TO};
    for (int h = H_VIA; h <= H_TO; h++) {
        Py_ssize_t v = val[h][0], e = val[h][1];
        PyObject *value;
        ViaGroups g;
        if (v < 0 || (h == H_VIA && !read_via(s, v, e, &g)))
            value = Py_NewRef(Py_None);
        else if (h == H_VIA)
            value = make_via(s, &g);
        else if (h == H_CSEQ)
            value = make_cseq(s, v, e);
        else if (h == H_CALL_ID)
            value = make_call_id(s, v, e);
        else
            value = make_name_addr(s, v, e);
        if (value == NULL)
            return -1;
        put(msg, slot_of[h], value);
    }
    return 0;
}

static PyObject *call_fallback(PyObject *data)
{
    PyObject *fb = fallback, *result;
    if (fb == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_sip_native is not initialised (_init)");
        return NULL;
    }
    /* Held for the call: Python code run by it may call _init, which replaces `fallback`. */
    Py_INCREF(fb);
    result = PyObject_CallOneArg(fb, data);
    Py_DECREF(fb);
    return result;
}

static PyObject *parse_message(PyObject *module, PyObject *data)
{
    const char *s;
    Py_ssize_t n, p, q, hend, length = -1, body_start;
    Py_ssize_t val[N_HOT][2];
    int response;
    PyObject *msg;

    if (!enabled || fallback == NULL || !PyBytes_CheckExact(data))
        return call_fallback(data);
    s = PyBytes_AS_STRING(data);
    n = PyBytes_GET_SIZE(data);
    /* PyBytes are NUL-terminated: reading s[n] is allowed and stops every scan below. */
    for (int h = 0; h < N_HOT; h++)
        val[h][0] = -1;

    /* Start line. */
    response = n >= 4 && memcmp(s, "SIP/", 4) == 0;
    if (response) {
        /* SIP/2\.0 ([1-9][0-9][0-9])(?: ([^\r]*+))? */
        if (n < 12 || memcmp(s, "SIP/2.0 ", 8) != 0 || s[8] < '1' || s[8] > '9' ||
            !IS(s[9], C_DIGIT) || !IS(s[10], C_DIGIT))
            return call_fallback(data);
        p = 11;
        if (s[p] == ' ') {
            q = p + 1;
            while (!IS(s[q], C_STOP) && q < n)
                q++;
            p = q;
        }
    } else {
        /* (T++) ([A-Za-z][A-Za-z0-9+\-.]*+:[!#-;=?-~]*+) SIP/2\.0 */
        q = run(s, 0, C_TOKEN);
        if (q == 0 || s[q] != ' ' || !IS(s[q + 1], C_ALPHA))
            return call_fallback(data);
        p = run(s, q + 2, C_SCHEME);
        if (s[p] != ':')
            return call_fallback(data);
        p = run(s, p + 1, C_URI);
        if (!has_lit(s, p, n, " SIP/2.0", 8))
            return call_fallback(data);
        p += 8;
    }
    if (p + 1 >= n || s[p] != '\r' || s[p + 1] != '\n')
        return call_fallback(data);
    Py_ssize_t start_end = p;

    /* Header lines: name, optional SP/HT, colon, a value without CR, LF or non-ASCII. */
    for (;;) {
        p += 2; /* past the CRLF ending the previous line */
        if (s[p] == '\r') {
            if (s[p + 1] != '\n' || p + 1 >= n)
                return call_fallback(data);
            hend = p - 2;
            break;
        }
        q = run(s, p, C_TOKEN);
        if (q == p)
            return call_fallback(data); /* folded line, bad name, end of data... */
        Py_ssize_t name_end = q;
        q = skip_ws(s, q);
        if (s[q] != ':')
            return call_fallback(data);
        Py_ssize_t v = q + 1, e = v;
        while (!IS(s[e], C_STOP) && e < n)
            e++;
        if (e + 1 >= n || s[e] != '\r' || s[e + 1] != '\n')
            return call_fallback(data); /* bare LF, bare CR, non-ASCII, end of data */
        int h = hot_header(s + p, name_end - p);
        if (h != H_OTHER) {
            if (h == H_CL && val[H_CL][0] >= 0)
                return call_fallback(data); /* a second Content-Length */
            if (val[h][0] < 0) {
                val[h][0] = v;
                val[h][1] = e;
            }
        }
        p = e;
    }
    body_start = hend + 4;

    /* Content-Length: [ \t]*+([0-9]{1,10}+)[ \t]*+(?=\r), once. */
    if (val[H_CL][0] >= 0) {
        p = skip_ws(s, val[H_CL][0]);
        q = run(s, p, C_DIGIT);
        if (q == p || q - p > 10 || skip_ws(s, q) != val[H_CL][1])
            return call_fallback(data);
        unsigned long long cl = 0;
        for (Py_ssize_t i = p; i < q; i++)
            cl = cl * 10 + (unsigned long long)(s[i] - '0');
        if (cl > (unsigned long long)(n - body_start))
            return call_fallback(data); /* a short body: the pure path reports it */
        length = (Py_ssize_t)cl;
    }

    /* The message, as _parser.parse_message builds it. Each put() stores a new reference;
     * one that could not be made (NULL, MemoryError set) is caught at the end. */
    msg = (response ? response_type : request_type)->tp_alloc(
        response ? response_type : request_type, 0);
    if (msg == NULL)
        return NULL;
    if (response) {
        put(msg, S_STATUS_CODE,
            PyLong_FromLong((s[8] - '0') * 100 + (s[9] - '0') * 10 + (s[10] - '0')));
        put(msg, S_REASON, ascii_str(s + 12, start_end > 11 ? start_end - 12 : 0));
    } else {
        q = run(s, 0, C_TOKEN);
        put(msg, S_METHOD, ascii_str(s, q));
        put(msg, S_URI_TEXT, ascii_str(s + q + 1, start_end - 8 - q - 1));
        put(msg, S_URI, Py_NewRef(Py_None));
    }
    put(msg, S_VERSION, Py_NewRef(sip20));
    put(msg, S_TEXT, ascii_str(s, body_start));
    put(msg, S_HEND, PyLong_FromSsize_t(hend));
    put(msg, S_GROUPS, Py_NewRef(Py_None));
    put(msg, S_LINES, Py_NewRef(Py_None));
    put(msg, S_NAMES, Py_NewRef(Py_None));
    put(msg, S_C_VIA, Py_NewRef(Py_None));
    put(msg, S_C_CONTACT, Py_NewRef(Py_None));
    if (length < 0 || body_start + length == n) {
        put(msg, S_BODY, PyBytes_FromStringAndSize(s + body_start, n - body_start));
        put(msg, S_RAW, Py_NewRef(data));
    } else {
        put(msg, S_BODY, PyBytes_FromStringAndSize(s + body_start, length));
        put(msg, S_RAW, PyBytes_FromStringAndSize(s, body_start + length));
    }
    if (PyErr_Occurred() || fill_hot(msg, s, val) < 0) {
        Py_DECREF(msg);
        return NULL;
    }
    return msg;
}

/* ---- descriptors ---------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *prop;      /* the Python property replaced (its getter, setter, doc) */
    PyObject *fget;
    PyTypeObject *owner; /* the class whose slot is read */
    Py_ssize_t offset;
    Py_ssize_t index;    /* -1: return the slot; else: item `index` of the tuple in it */
} FastGet;

static PyObject *fastget_get(PyObject *self, PyObject *obj, PyObject *type)
{
    FastGet *d = (FastGet *)self;
    if (obj == NULL || obj == Py_None)
        return Py_NewRef(d->prop);
    if (enabled && PyObject_TypeCheck(obj, d->owner)) {
        PyObject *v = *(PyObject **)((char *)obj + d->offset);
        if (v != NULL && v != Py_None) {
            if (d->index < 0)
                return Py_NewRef(v);
            if (PyTuple_CheckExact(v) && PyTuple_GET_SIZE(v) > d->index)
                return Py_NewRef(PyTuple_GET_ITEM(v, d->index));
        }
    }
    return PyObject_CallOneArg(d->fget, obj);
}

static int fastget_set(PyObject *self, PyObject *obj, PyObject *value)
{
    PyObject *prop = ((FastGet *)self)->prop;
    return Py_TYPE(prop)->tp_descr_set(prop, obj, value);
}

static int fastget_traverse(PyObject *self, visitproc visit, void *arg)
{
    FastGet *d = (FastGet *)self;
    Py_VISIT(d->prop); Py_VISIT(d->fget); Py_VISIT(d->owner);
    return 0;
}

/* No tp_clear, as CPython's own member descriptors: its fields stay set for the object's
 * whole life (fastget_get/set use them unchecked), and every cycle through one (the class,
 * the getter's function) is broken by the other objects' tp_clear. */
static void fastget_dealloc(PyObject *self)
{
    FastGet *d = (FastGet *)self;
    PyObject_GC_UnTrack(self);
    Py_XDECREF(d->prop); Py_XDECREF(d->fget); Py_XDECREF(d->owner);
    Py_TYPE(self)->tp_free(self);
}

static PyTypeObject FastGetType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rvoip_sansio.sip._sip_native.FastGet",
    .tp_basicsize = sizeof(FastGet),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A property whose cached slot is read in C (see fast_property()).",
    .tp_dealloc = fastget_dealloc,
    .tp_traverse = fastget_traverse,
    .tp_descr_get = fastget_get,
    .tp_descr_set = fastget_set,
};

/* The offset of a writable object slot, from its member descriptor; -1 with an exception. */
static Py_ssize_t member_offset(PyObject *descr, PyTypeObject **owner)
{
    PyMemberDef *def = Py_IS_TYPE(descr, &PyMemberDescr_Type)
        ? ((PyMemberDescrObject *)descr)->d_member : NULL;
    if (def == NULL || def->type != T_OBJECT_EX || (def->flags & READONLY)) {
        PyErr_SetString(PyExc_TypeError, "expected the member descriptor of an object slot");
        return -1;
    }
    if (owner != NULL)
        *owner = ((PyMemberDescrObject *)descr)->d_common.d_type;
    return def->offset;
}

static PyObject *fast_property(PyObject *module, PyObject *args)
{
    PyObject *prop, *member, *fget;
    Py_ssize_t index = -1, offset;
    PyTypeObject *owner;
    FastGet *d;
    if (!PyArg_ParseTuple(args, "O!O|n:fast_property", &PyProperty_Type, &prop, &member,
                          &index))
        return NULL;
    offset = member_offset(member, &owner);
    if (offset < 0)
        return NULL;
    fget = PyObject_GetAttrString(prop, "fget");
    if (fget != NULL && !PyCallable_Check(fget))
        PyErr_SetString(PyExc_TypeError, "the property has no getter");
    d = PyErr_Occurred() ? NULL : PyObject_GC_New(FastGet, &FastGetType);
    if (d == NULL) {
        Py_XDECREF(fget);
        return NULL;
    }
    d->prop = Py_NewRef(prop);
    d->fget = fget;
    d->owner = (PyTypeObject *)Py_NewRef(owner);
    d->offset = offset;
    d->index = index;
    PyObject_GC_Track(d);
    return (PyObject *)d;
}

/* ---- set-up --------------------------------------------------------------------------- */

static PyObject *init(PyObject *module, PyObject *args)
{
    PyTypeObject *req, *resp, *cseq, *via, *na;
    PyObject *fb, *slots;
    Py_ssize_t offsets[N_SLOTS];
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!OO!:_init", &PyType_Type, &req, &PyType_Type, &resp,
                          &PyType_Type, &cseq, &PyType_Type, &via, &PyType_Type, &na, &fb,
                          &PyDict_Type, &slots))
        return NULL;
    if (!PyCallable_Check(fb)) {
        PyErr_SetString(PyExc_TypeError, "the fallback must be callable");
        return NULL;
    }
    /* Everything is checked before anything changes: a failed call leaves the module as it
     * was (a half set-up would pair these classes with the offsets of others). */
    for (int i = 0; i < N_SLOTS; i++) {
        /* keys "Class.slot"; each slot must belong to (a base of) the classes made here */
        PyTypeObject *owner, *user = i <= S_C_CONTACT ? resp : i <= S_URI ? req
            : i <= S_REASON ? resp : i <= S_CSEQ_METHOD ? cseq : i == S_VIA_LAZY ? via : na;
        PyObject *descr = PyDict_GetItemString(slots, slot_names[i]); /* borrowed */
        Py_ssize_t off = descr == NULL ? -1 : member_offset(descr, &owner);
        if (descr == NULL || (off >= 0 && (!PyType_IsSubtype(user, owner) ||
                              (i <= S_C_CONTACT && !PyType_IsSubtype(req, owner))))) {
            PyErr_Format(PyExc_TypeError, "slot %s missing or not of its class", slot_names[i]);
            return NULL;
        }
        if (off < 0)
            return NULL;
        offsets[i] = off;
    }
    /* Every global is replaced before the old values are released (a release may run
     * Python code, which must find a consistent set-up). */
    PyObject *old[6] = {(PyObject *)request_type, (PyObject *)response_type,
                        (PyObject *)cseq_type, (PyObject *)via_type,
                        (PyObject *)name_addr_type, fallback};
    memcpy(slot_offset, offsets, sizeof offsets);
    request_type = (PyTypeObject *)Py_NewRef(req);
    response_type = (PyTypeObject *)Py_NewRef(resp);
    cseq_type = (PyTypeObject *)Py_NewRef(cseq);
    via_type = (PyTypeObject *)Py_NewRef(via);
    name_addr_type = (PyTypeObject *)Py_NewRef(na);
    fallback = Py_NewRef(fb);
    for (int i = 0; i < 6; i++)
        Py_XDECREF(old[i]);
    Py_RETURN_NONE;
}

static PyObject *set_enabled(PyObject *module, PyObject *flag)
{
    int on = PyObject_IsTrue(flag);
    if (on >= 0)
        enabled = on;
    return on < 0 ? NULL : Py_NewRef(Py_None);
}

static PyMethodDef methods[] = {
    {"parse_message", parse_message, METH_O,
     "parse_message(data, /)\n--\n\nParse one SIP message from a datagram (RFC 3261 §7, "
     "§18.3); the pure parse_message for anything off the fast path."},
    {"fast_property", fast_property, METH_VARARGS,
     "fast_property(prop, slot, index=-1, /)\n--\n\nA descriptor answering `prop` from the "
     "slot (index -1) or item `index` of the tuple in it when set, else calling prop.fget."},
    {"set_enabled", set_enabled, METH_O,
     "set_enabled(flag, /)\n--\n\nFalse: every call goes to the pure code (for the tests)."},
    {"_init", init, METH_VARARGS,
     "_init(Request, Response, CSeq, Via, NameAddr, pure_parse_message, slots): set-up."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sip_native",
    "Optional C accelerator for SIP parsing (see rvoip_sansio/sip/_parser.py).", -1, methods,
};

PyMODINIT_FUNC
PyInit__sip_native(void)
{
    PyObject *m;
    init_classes();
    if (PyType_Ready(&FastGetType) < 0 || (sip20 = PyUnicode_InternFromString("SIP/2.0")) == NULL
        || (m = PyModule_Create(&module)) == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "ABI", SIP_NATIVE_ABI) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
