/* AES (FIPS 197) through AES-NI, AES counter mode (RFC 3711 section 4.1.1, SP 800-38A),
 * SHA-1 (FIPS 180-4) with HMAC (RFC 2104) and AES-GCM (SP 800-38D, GHASH through PCLMULQDQ)
 * for _srtp_native.c (the only includer).
 *
 * AES only through the AES-NI instructions: a table-driven AES leaks its key through cache
 * timing, so without AES-NI the Python module keeps using the `cryptography` package.
 * SHA-1 has no secret-dependent memory access, so a portable C version backs up SHA-NI.
 * Written from the specifications; x86-64 is little-endian, which the loads below assume.
 */
#ifndef RVOIP_SRTP_CRYPTO_H
#define RVOIP_SRTP_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RV_X86 1
#include <cpuid.h>
#include <immintrin.h>
#define RV_AES_TARGET __attribute__((target("aes,sse2,ssse3,sse4.1")))
#define RV_SHA_TARGET __attribute__((target("sha,sse2,ssse3,sse4.1")))
#define RV_GCM_TARGET __attribute__((target("pclmul,aes,sse2,ssse3,sse4.1")))
#else
#define RV_X86 0
#endif

/* --------------------------------------------------------------------------- CPU features */
static int rv_cpu_aes = 0; /* AES-NI with SSE4.1 (and SSSE3) */
static int rv_cpu_sha = 0; /* SHA-NI with SSSE3 and SSE4.1 */
static int rv_cpu_clmul = 0; /* PCLMULQDQ with AES-NI (what AES-GCM needs) */

static void
rv_detect_cpu(void)
{
#if RV_X86
    unsigned int a, b, c, d;
    int sse = 0;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        sse = (d & (1u << 26)) && (c & (1u << 9)) && (c & (1u << 19)); /* SSE2 SSSE3 SSE4.1 */
        rv_cpu_aes = sse && (c & (1u << 25)) != 0;                      /* AES */
        rv_cpu_clmul = rv_cpu_aes && (c & (1u << 1)) != 0;              /* PCLMULQDQ */
    }
    if (sse && __get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        rv_cpu_sha = (b & (1u << 29)) != 0; /* SHA extensions */
    }
#endif
}

static inline uint32_t
rv_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void
rv_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint64_t
rv_be64(const uint8_t *p)
{
    return ((uint64_t)rv_be32(p) << 32) | rv_be32(p + 4);
}

/* -------------------------------------------------------------------------------- AES */
#define RV_AES_MAX_ROUNDS 14

typedef struct {
    uint8_t rk[16 * (RV_AES_MAX_ROUNDS + 1)]; /* round keys, FIPS 197 w[] as bytes */
    int nr;                                   /* 10, 12 or 14 */
} rv_aes_key;

#if RV_X86
/* FIPS 197 SubWord through the AES-NI key-generation assist: dword 0 of its result is
 * SubWord(dword 1 of its input). No table: no key-dependent memory access. */
RV_AES_TARGET static uint32_t
rv_sub_word(uint32_t w)
{
    __m128i x = _mm_set_epi32(0, 0, (int)w, 0);
    return (uint32_t)_mm_cvtsi128_si32(_mm_aeskeygenassist_si128(x, 0));
}

/* FIPS 197 section 5.2 KeyExpansion for Nk = 4, 6, 8 words (key of 16, 24, 32 bytes).
 * Words are kept as little-endian loads of their four bytes: RotWord is a right rotation
 * by 8 and Rcon goes into the low byte. Returns 0, or -1 for another key length. */
RV_AES_TARGET static int
rv_aes_expand(rv_aes_key *k, const uint8_t *key, size_t key_len)
{
    uint32_t w[4 * (RV_AES_MAX_ROUNDS + 1)];
    int nk = (int)(key_len / 4), nr, total, i;
    uint32_t rcon = 1;
    if (key_len != 16 && key_len != 24 && key_len != 32)
        return -1;
    nr = nk + 6;
    total = 4 * (nr + 1);
    for (i = 0; i < nk; i++)
        memcpy(&w[i], key + 4 * i, 4);
    for (i = nk; i < total; i++) {
        uint32_t t = w[i - 1];
        if (i % nk == 0) {
            t = rv_sub_word((t >> 8) | (t << 24)) ^ rcon;
            rcon = ((rcon << 1) ^ ((rcon & 0x80) ? 0x1b : 0)) & 0xff; /* xtime */
        } else if (nk > 6 && i % nk == 4) {
            t = rv_sub_word(t);
        }
        w[i] = w[i - nk] ^ t;
    }
    memcpy(k->rk, w, (size_t)total * 4);
    k->nr = nr;
    memset(w, 0, sizeof w);
    return 0;
}

/* The block (hi, lo) as 16 big-endian bytes in a register. */
#define RV_BLOCK(hi, lo) \
    _mm_set_epi64x((long long)__builtin_bswap64(lo), (long long)__builtin_bswap64(hi))

/* out = in XOR E(k, CTR) || E(k, CTR + 1) || ... with CTR the 128-bit big-endian number
 * (ctr_hi, ctr_lo), len bytes (in and out may be the same buffer). Four blocks at a time
 * so the AES units pipeline. */
RV_AES_TARGET static void
rv_aes_ctr_xor(const rv_aes_key *k, uint64_t ctr_hi, uint64_t ctr_lo, const uint8_t *in,
               uint8_t *out, size_t len)
{
    __m128i rk[RV_AES_MAX_ROUNDS + 1];
    int nr = k->nr, r;
    rk[0] = _mm_loadu_si128((const __m128i *)k->rk);
    for (r = 1; r <= nr; r++)
        rk[r] = _mm_loadu_si128((const __m128i *)(k->rk + 16 * r));
    while (len >= 64) {
        __m128i b0, b1, b2, b3;
        uint64_t l1 = ctr_lo + 1, l2 = ctr_lo + 2, l3 = ctr_lo + 3;
        b0 = _mm_xor_si128(RV_BLOCK(ctr_hi, ctr_lo), rk[0]);
        b1 = _mm_xor_si128(RV_BLOCK(ctr_hi + (l1 < ctr_lo), l1), rk[0]);
        b2 = _mm_xor_si128(RV_BLOCK(ctr_hi + (l2 < ctr_lo), l2), rk[0]);
        b3 = _mm_xor_si128(RV_BLOCK(ctr_hi + (l3 < ctr_lo), l3), rk[0]);
        for (r = 1; r < nr; r++) {
            b0 = _mm_aesenc_si128(b0, rk[r]);
            b1 = _mm_aesenc_si128(b1, rk[r]);
            b2 = _mm_aesenc_si128(b2, rk[r]);
            b3 = _mm_aesenc_si128(b3, rk[r]);
        }
        b0 = _mm_aesenclast_si128(b0, rk[nr]);
        b1 = _mm_aesenclast_si128(b1, rk[nr]);
        b2 = _mm_aesenclast_si128(b2, rk[nr]);
        b3 = _mm_aesenclast_si128(b3, rk[nr]);
        _mm_storeu_si128((__m128i *)out,
                         _mm_xor_si128(b0, _mm_loadu_si128((const __m128i *)in)));
        _mm_storeu_si128((__m128i *)(out + 16),
                         _mm_xor_si128(b1, _mm_loadu_si128((const __m128i *)(in + 16))));
        _mm_storeu_si128((__m128i *)(out + 32),
                         _mm_xor_si128(b2, _mm_loadu_si128((const __m128i *)(in + 32))));
        _mm_storeu_si128((__m128i *)(out + 48),
                         _mm_xor_si128(b3, _mm_loadu_si128((const __m128i *)(in + 48))));
        ctr_lo += 4;
        ctr_hi += ctr_lo < 4;
        in += 64;
        out += 64;
        len -= 64;
    }
    while (len) {
        __m128i b = _mm_xor_si128(RV_BLOCK(ctr_hi, ctr_lo), rk[0]);
        for (r = 1; r < nr; r++)
            b = _mm_aesenc_si128(b, rk[r]);
        b = _mm_aesenclast_si128(b, rk[nr]);
        if (len >= 16) {
            _mm_storeu_si128((__m128i *)out,
                             _mm_xor_si128(b, _mm_loadu_si128((const __m128i *)in)));
            in += 16;
            out += 16;
            len -= 16;
        } else {
            uint8_t ks[16];
            size_t i;
            _mm_storeu_si128((__m128i *)ks, b);
            for (i = 0; i < len; i++)
                out[i] = in[i] ^ ks[i];
            len = 0;
        }
        ctr_lo += 1;
        ctr_hi += ctr_lo == 0;
    }
}
#endif /* RV_X86 */

/* ------------------------------------------------------------------------------ SHA-1 */
typedef void (*rv_sha1_blocks_fn)(uint32_t st[5], const uint8_t *p, size_t nblocks);

static const uint32_t rv_sha1_iv[5] = {
    0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u,
};

#define RV_ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

/* FIPS 180-4 section 6.1.2, one 64-byte block after another. The schedule is kept as the
 * last sixteen words (W[t] overwrites W[t-16]), one loop per round function. */
#define RV_W(t)                                                                        \
    ((t) < 16 ? w[(t)]                                                                 \
              : (w[(t) & 15] = RV_ROL(w[((t) - 3) & 15] ^ w[((t) - 8) & 15]           \
                                      ^ w[((t) - 14) & 15] ^ w[(t) & 15], 1)))
#define RV_ROUND(i, f, k)                                 \
    do {                                                  \
        uint32_t t_ = RV_ROL(a, 5) + (f) + e + (k) + RV_W(i); \
        e = d;                                            \
        d = c;                                            \
        c = RV_ROL(b, 30);                                \
        b = a;                                            \
        a = t_;                                           \
    } while (0)

static void
rv_sha1_portable(uint32_t st[5], const uint8_t *p, size_t nblocks)
{
    while (nblocks--) {
        uint32_t w[16], a = st[0], b = st[1], c = st[2], d = st[3], e = st[4];
        int j;
        for (j = 0; j < 16; j++)
            w[j] = rv_be32(p + 4 * j);
        /* Unrolled with constant indices so the schedule stays in registers. */
#define RV_R5(i0, f, k) \
    RV_ROUND(i0, f, k); RV_ROUND(i0 + 1, f, k); RV_ROUND(i0 + 2, f, k); \
    RV_ROUND(i0 + 3, f, k); RV_ROUND(i0 + 4, f, k)
#define RV_R20(i0, f, k) \
    RV_R5(i0, f, k); RV_R5(i0 + 5, f, k); RV_R5(i0 + 10, f, k); RV_R5(i0 + 15, f, k)
        RV_R20(0, d ^ (b & (c ^ d)), 0x5A827999u);           /* Ch */
        RV_R20(20, b ^ c ^ d, 0x6ED9EBA1u);                  /* Parity */
        RV_R20(40, (b & c) | (d & (b | c)), 0x8F1BBCDCu);    /* Maj */
        RV_R20(60, b ^ c ^ d, 0xCA62C1D6u);                  /* Parity */
#undef RV_R20
#undef RV_R5
        st[0] += a;
        st[1] += b;
        st[2] += c;
        st[3] += d;
        st[4] += e;
        p += 64;
    }
}
#undef RV_ROUND
#undef RV_W

#if RV_X86
/* Four rounds with the SHA extensions. The message words W[4g..4g+3] sit in one register,
 * W[4g] in the top dword; g >= 4 computes them from the previous sixteen (FIPS 180-4
 * W[t] = ROTL1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16])) with SHA1MSG1/XOR/SHA1MSG2. E for the
 * next four rounds is ROTL30 of A four rounds back (SHA1NEXTE), added to W[4g]. */
#define RV_SHA4(g, f)                                                                    \
    do {                                                                                 \
        if ((g) >= 4)                                                                    \
            m[(g) & 3] = _mm_sha1msg2_epu32(                                             \
                _mm_xor_si128(_mm_sha1msg1_epu32(m[(g) & 3], m[((g) + 1) & 3]),          \
                              m[((g) + 2) & 3]),                                         \
                m[((g) + 3) & 3]);                                                       \
        ew = (g) == 0 ? _mm_add_epi32(e0, m[0]) : _mm_sha1nexte_epu32(prev, m[(g) & 3]); \
        prev = abcd;                                                                     \
        abcd = _mm_sha1rnds4_epu32(abcd, ew, f);                                         \
    } while (0)

RV_SHA_TARGET static void
rv_sha1_shani(uint32_t st[5], const uint8_t *p, size_t nblocks)
{
    const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    /* A in the top dword, D in the bottom one; E alone in the top dword. */
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)st), 0x1B);
    __m128i e0 = _mm_set_epi32((int)st[4], 0, 0, 0);
    while (nblocks--) {
        __m128i m[4], ew, prev, abcd0 = abcd, e_save = e0;
        int i;
        for (i = 0; i < 4; i++)
            m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), rev);
        prev = abcd;
        RV_SHA4(0, 0); RV_SHA4(1, 0); RV_SHA4(2, 0); RV_SHA4(3, 0); RV_SHA4(4, 0);
        RV_SHA4(5, 1); RV_SHA4(6, 1); RV_SHA4(7, 1); RV_SHA4(8, 1); RV_SHA4(9, 1);
        RV_SHA4(10, 2); RV_SHA4(11, 2); RV_SHA4(12, 2); RV_SHA4(13, 2); RV_SHA4(14, 2);
        RV_SHA4(15, 3); RV_SHA4(16, 3); RV_SHA4(17, 3); RV_SHA4(18, 3); RV_SHA4(19, 3);
        /* E after 80 rounds is ROTL30(A after 76); add the saved state (FIPS 180-4 6.1.2 4). */
        e0 = _mm_sha1nexte_epu32(prev, e_save);
        abcd = _mm_add_epi32(abcd, abcd0);
        p += 64;
    }
    _mm_storeu_si128((__m128i *)st, _mm_shuffle_epi32(abcd, 0x1B));
    st[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}
#undef RV_SHA4
#endif /* RV_X86 */

/* Finish a SHA-1 whose state st has absorbed `done` bytes: the last `n` bytes of
 * `tail` (n < 64 + 8: at most one block plus the 4-byte SRTP ROC) then the FIPS 180-4
 * section 5.1.1 padding; the digest in out (20 bytes). */
static void
rv_sha1_finish(rv_sha1_blocks_fn blocks, uint32_t st[5], const uint8_t *tail, size_t n,
               uint64_t total, uint8_t out[20])
{
    uint8_t buf[192];
    size_t used, nblk;
    int i;
    if (n >= 64) {
        blocks(st, tail, 1);
        tail += 64;
        n -= 64;
    }
    memcpy(buf, tail, n);
    buf[n] = 0x80;
    used = n + 1;
    nblk = used + 8 <= 64 ? 1 : 2;
    memset(buf + used, 0, nblk * 64 - 8 - used);
    rv_put_be32(buf + nblk * 64 - 8, (uint32_t)((total * 8) >> 32));
    rv_put_be32(buf + nblk * 64 - 4, (uint32_t)(total * 8));
    blocks(st, buf, nblk);
    for (i = 0; i < 5; i++)
        rv_put_be32(out + 4 * i, st[i]);
}

/* RFC 2104 HMAC-SHA1 with the states after the key^ipad and key^opad blocks ready:
 * HMAC(k, a || b) for a of any length and b of at most 8 bytes (the SRTP ROC). */
typedef struct {
    uint32_t inner[5], outer[5];
    rv_sha1_blocks_fn blocks;
} rv_hmac_key;

static void
rv_hmac_init(rv_hmac_key *h, const uint8_t *key, size_t key_len, rv_sha1_blocks_fn blocks)
{
    uint8_t pad[64];
    uint8_t digest[20];
    size_t i;
    h->blocks = blocks;
    if (key_len > 64) { /* RFC 2104 section 2: a long key is hashed first */
        uint32_t st[5];
        memcpy(st, rv_sha1_iv, sizeof st);
        blocks(st, key, key_len / 64);
        rv_sha1_finish(blocks, st, key + key_len / 64 * 64, key_len % 64, key_len, digest);
        key = digest;
        key_len = 20;
    }
    memset(pad, 0, sizeof pad);
    memcpy(pad, key, key_len);
    for (i = 0; i < 64; i++)
        pad[i] ^= 0x36;
    memcpy(h->inner, rv_sha1_iv, sizeof h->inner);
    blocks(h->inner, pad, 1);
    for (i = 0; i < 64; i++)
        pad[i] ^= 0x36 ^ 0x5c;
    memcpy(h->outer, rv_sha1_iv, sizeof h->outer);
    blocks(h->outer, pad, 1);
    memset(pad, 0, sizeof pad);
    memset(digest, 0, sizeof digest);
}

static void
rv_hmac(const rv_hmac_key *h, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
        uint8_t out[20])
{
    uint32_t st[5];
    uint8_t tail[64 + 8], inner[20];
    size_t full = a_len / 64, rest = a_len - full * 64;
    memcpy(st, h->inner, sizeof st);
    h->blocks(st, a, full);
    memcpy(tail, a + full * 64, rest);
    if (b_len)
        memcpy(tail + rest, b, b_len);
    rv_sha1_finish(h->blocks, st, tail, rest + b_len, 64 + (uint64_t)a_len + b_len, inner);
    memcpy(st, h->outer, sizeof st);
    rv_sha1_finish(h->blocks, st, inner, 20, 64 + 20, out);
}

/* Constant time: the time does not depend on where the tags differ. */
static int
rv_tags_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    unsigned int d = 0;
    size_t i;
    for (i = 0; i < n; i++)
        d |= (unsigned int)(a[i] ^ b[i]);
    return d == 0;
}

/* ----------------------------------------------------------------------------- AES-GCM */
#if RV_X86
/* SP 800-38D section 6.3: GHASH multiplies in GF(2^128) modulo x^128 + x^7 + x^2 + x + 1,
 * where bit 0 of a block (the top bit of its first byte) is the coefficient of x^0. A block
 * is loaded byte-reversed, so register bit j holds the coefficient of x^(127 - j) (the
 * polynomial, bit-reflected). For reflected a and b, the carry-less product's bit k is the
 * coefficient of x^(254 - k); shifted left by one, bit j of the 256-bit value (hi:lo) is that
 * of x^(255 - j): hi is the product's x^0..x^127 part as a reflected polynomial and lo holds
 * L with the x^128..x^255 part = x^128 * L. Since x^128 = x^7 + x^2 + x + 1 (mod P), and
 * multiplying a reflected value by x^s is a right shift by s, x^128 * L reduces to
 * L ^ L>>1 ^ L>>2 ^ L>>7 plus the bits those shifts push out below bit 0: they are the
 * x^128..x^134 terms, x^128 * e with e = L<<127 ^ L<<126 ^ L<<121, which reduce the same way
 * without overflowing again. Folding e into L first does both steps at once. */

/* A 16-byte block as a reflected polynomial (byte order reversed). */
RV_GCM_TARGET static inline __m128i
rv_gcm_load(const uint8_t *p)
{
    const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), rev);
}

RV_GCM_TARGET static inline void
rv_gcm_store(uint8_t *p, __m128i x)
{
    const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    _mm_storeu_si128((__m128i *)p, _mm_shuffle_epi8(x, rev));
}

/* The 256-bit carry-less product a * b, accumulated into (*hi, *lo) (schoolbook: four
 * 64 x 64 multiplications). Reduction is left to rv_gf_reduce, so several products can be
 * summed first (sum of products = product of sums, reduced once). */
RV_GCM_TARGET static inline void
rv_clmul_acc(__m128i a, __m128i b, __m128i *hi, __m128i *lo)
{
    __m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10),
                                _mm_clmulepi64_si128(a, b, 0x01));
    *lo = _mm_xor_si128(*lo, _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x00),
                                           _mm_slli_si128(mid, 8)));
    *hi = _mm_xor_si128(*hi, _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x11),
                                           _mm_srli_si128(mid, 8)));
}

/* 128-bit right shift of a register by s (1 <= s <= 63). */
#define RV_SRL128(x, s) \
    _mm_or_si128(_mm_srli_epi64((x), (s)), _mm_slli_epi64(_mm_srli_si128((x), 8), 64 - (s)))

/* (hi:lo), an unshifted sum of reflected products, reduced modulo P (see above). */
RV_GCM_TARGET static inline __m128i
rv_gf_reduce(__m128i hi, __m128i lo)
{
    __m128i clo = _mm_srli_epi64(lo, 63), chi = _mm_srli_epi64(hi, 63), e;
    /* the 256-bit shift left by one */
    hi = _mm_or_si128(_mm_slli_epi64(hi, 1),
                      _mm_or_si128(_mm_slli_si128(chi, 8), _mm_srli_si128(clo, 8)));
    lo = _mm_or_si128(_mm_slli_epi64(lo, 1), _mm_slli_si128(clo, 8));
    /* e = L<<127 ^ L<<126 ^ L<<121: only L's low 64 bits reach it, into the high half */
    e = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi64(lo, 63), _mm_slli_epi64(lo, 62)),
                      _mm_slli_epi64(lo, 57));
    lo = _mm_xor_si128(lo, _mm_slli_si128(e, 8));
    return _mm_xor_si128(_mm_xor_si128(hi, lo),
                         _mm_xor_si128(_mm_xor_si128(RV_SRL128(lo, 1), RV_SRL128(lo, 2)),
                                       RV_SRL128(lo, 7)));
}

RV_GCM_TARGET static inline __m128i
rv_gf_mul(__m128i a, __m128i b)
{
    __m128i hi = _mm_setzero_si128(), lo = _mm_setzero_si128();
    rv_clmul_acc(a, b, &hi, &lo);
    return rv_gf_reduce(hi, lo);
}

/* AES key and the GHASH key H = E(K, 0^128) with its powers H^1..H^4, reflected. */
typedef struct {
    rv_aes_key aes;
    uint8_t h[4][16];
} rv_gcm_key;

RV_GCM_TARGET static int
rv_gcm_init(rv_gcm_key *k, const uint8_t *key, size_t key_len)
{
    uint8_t zero[16] = {0}, h[16];
    __m128i h1, hn;
    int i;
    if (rv_aes_expand(&k->aes, key, key_len) < 0)
        return -1;
    rv_aes_ctr_xor(&k->aes, 0, 0, zero, h, 16); /* SP 800-38D 7.1 step 1: H = CIPH_K(0) */
    h1 = hn = rv_gcm_load(h);
    _mm_storeu_si128((__m128i *)k->h[0], h1);
    for (i = 1; i < 4; i++) {
        hn = rv_gf_mul(hn, h1);
        _mm_storeu_si128((__m128i *)k->h[i], hn);
    }
    memset(h, 0, sizeof h);
    return 0;
}

/* SP 800-38D 6.4 GHASH over the blocks of p (the last one zero-padded), from state x:
 * X_i = (X_{i-1} ^ B_i) * H, four blocks per reduction as
 * (X ^ B1) H^4 ^ B2 H^3 ^ B3 H^2 ^ B4 H. */
RV_GCM_TARGET static __m128i
rv_ghash(const rv_gcm_key *k, __m128i x, const uint8_t *p, size_t len)
{
    __m128i h1 = _mm_loadu_si128((const __m128i *)k->h[0]);
    while (len >= 64) {
        __m128i hi = _mm_setzero_si128(), lo = _mm_setzero_si128();
        rv_clmul_acc(_mm_xor_si128(x, rv_gcm_load(p)),
                     _mm_loadu_si128((const __m128i *)k->h[3]), &hi, &lo);
        rv_clmul_acc(rv_gcm_load(p + 16), _mm_loadu_si128((const __m128i *)k->h[2]), &hi, &lo);
        rv_clmul_acc(rv_gcm_load(p + 32), _mm_loadu_si128((const __m128i *)k->h[1]), &hi, &lo);
        rv_clmul_acc(rv_gcm_load(p + 48), h1, &hi, &lo);
        x = rv_gf_reduce(hi, lo);
        p += 64;
        len -= 64;
    }
    while (len >= 16) {
        x = rv_gf_mul(_mm_xor_si128(x, rv_gcm_load(p)), h1);
        p += 16;
        len -= 16;
    }
    if (len) {
        uint8_t b[16] = {0};
        memcpy(b, p, len);
        x = rv_gf_mul(_mm_xor_si128(x, rv_gcm_load(b)), h1);
    }
    return x;
}

/* SP 800-38D 7.1 steps 5-6: tag = E(K, J0) XOR GHASH(A || 0* || C || 0* || [len A]64
 * || [len C]64), J0 = (j0_hi, j0_lo) as a 128-bit big-endian number. */
RV_GCM_TARGET static void
rv_gcm_tag(const rv_gcm_key *k, uint64_t j0_hi, uint64_t j0_lo, const uint8_t *a, size_t a_len,
           const uint8_t *c, size_t c_len, uint8_t tag[16])
{
    uint8_t lens[16];
    __m128i x = rv_ghash(k, _mm_setzero_si128(), a, a_len);
    x = rv_ghash(k, x, c, c_len);
    rv_put_be32(lens, (uint32_t)((uint64_t)a_len >> 29));
    rv_put_be32(lens + 4, (uint32_t)((uint64_t)a_len << 3));
    rv_put_be32(lens + 8, (uint32_t)((uint64_t)c_len >> 29));
    rv_put_be32(lens + 12, (uint32_t)((uint64_t)c_len << 3));
    x = rv_ghash(k, x, lens, 16);
    rv_gcm_store(tag, x);
    rv_aes_ctr_xor(&k->aes, j0_hi, j0_lo, tag, tag, 16);
}

/* GCM with a 96-bit IV (SP 800-38D 7.1 / 7.2, J0 = IV || 0^31 || 1; the payload's counter
 * blocks start at J0 + 1). The caller keeps len below 2^32 blocks (SRTP: below 1 MiB), so
 * the 128-bit counter increments equal inc32. seal: out = C, tag; open: the tag is checked
 * first, in constant time, and out written only when it verifies (returns 0, else -1). */
RV_GCM_TARGET static void
rv_gcm_seal(const rv_gcm_key *k, const uint8_t iv[12], const uint8_t *a, size_t a_len,
            const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
    uint64_t j0_hi = rv_be64(iv), j0_lo = (uint64_t)rv_be32(iv + 8) << 32 | 1;
    rv_aes_ctr_xor(&k->aes, j0_hi, j0_lo + 1, in, out, len);
    rv_gcm_tag(k, j0_hi, j0_lo, a, a_len, out, len, tag);
}

RV_GCM_TARGET static int
rv_gcm_open(const rv_gcm_key *k, const uint8_t iv[12], const uint8_t *a, size_t a_len,
            const uint8_t *in, size_t len, const uint8_t tag[16], uint8_t *out)
{
    uint64_t j0_hi = rv_be64(iv), j0_lo = (uint64_t)rv_be32(iv + 8) << 32 | 1;
    uint8_t want[16];
    int ok;
    rv_gcm_tag(k, j0_hi, j0_lo, a, a_len, in, len, want);
    ok = rv_tags_equal(want, tag, 16);
    memset(want, 0, sizeof want);
    if (!ok)
        return -1;
    rv_aes_ctr_xor(&k->aes, j0_hi, j0_lo + 1, in, out, len);
    return 0;
}
#endif /* RV_X86 */

#endif /* RVOIP_SRTP_CRYPTO_H */
