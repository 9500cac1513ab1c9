/* Shared by the codecs' C accelerators (_resample_native.c, _plc_native.c): a dot product
 * of float64 vectors whose every partial sum is exact (integral values, sums below 2^53),
 * so any summation order gives the same result and the vectorised sums below give numpy's
 * very results; and EXACT_DOT_CLONES, to build a caller for AVX2 where the CPU has it
 * (chosen once at load time) and plain SSE2 otherwise. Include after <Python.h> and
 * <string.h>. */
#ifndef RVOIP_EXACT_DOT_H
#define RVOIP_EXACT_DOT_H

#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
#define EXACT_DOT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define EXACT_DOT_CLONES
#endif

#if defined(__GNUC__)
typedef double v4d __attribute__((vector_size(32)));

static inline double
dot(const double *a, const double *b, Py_ssize_t n)
{
    v4d s0 = {0.0, 0.0, 0.0, 0.0}, s1 = s0, s2 = s0, s3 = s0;
    Py_ssize_t j = 0;
    for (; j + 16 <= n; j += 16) {
        v4d a0, a1, a2, a3, b0, b1, b2, b3;
        memcpy(&a0, a + j, sizeof a0);
        memcpy(&a1, a + j + 4, sizeof a1);
        memcpy(&a2, a + j + 8, sizeof a2);
        memcpy(&a3, a + j + 12, sizeof a3);
        memcpy(&b0, b + j, sizeof b0);
        memcpy(&b1, b + j + 4, sizeof b1);
        memcpy(&b2, b + j + 8, sizeof b2);
        memcpy(&b3, b + j + 12, sizeof b3);
        s0 += a0 * b0;
        s1 += a1 * b1;
        s2 += a2 * b2;
        s3 += a3 * b3;
    }
    for (; j + 4 <= n; j += 4) {
        v4d a0, b0;
        memcpy(&a0, a + j, sizeof a0);
        memcpy(&b0, b + j, sizeof b0);
        s0 += a0 * b0;
    }
    s0 += s1;
    s2 += s3;
    s0 += s2;
    double acc = (s0[0] + s0[1]) + (s0[2] + s0[3]);
    for (; j < n; j++)
        acc += a[j] * b[j];
    return acc;
}
#else
static inline double
dot(const double *a, const double *b, Py_ssize_t n)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    Py_ssize_t j = 0;
    for (; j + 4 <= n; j += 4) {
        s0 += a[j] * b[j];
        s1 += a[j + 1] * b[j + 1];
        s2 += a[j + 2] * b[j + 2];
        s3 += a[j + 3] * b[j + 3];
    }
    double acc = (s0 + s1) + (s2 + s3);
    for (; j < n; j++)
        acc += a[j] * b[j];
    return acc;
}
#endif

#endif /* RVOIP_EXACT_DOT_H */
