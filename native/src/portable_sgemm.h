/*
 * Portable blocked single-precision GEMM (row-major), the fallback when no system BLAS was found at build
 * time. C = A'·B' + beta·C with A' = A or Aᵀ and B' = B or Bᵀ, A' of shape m×k and B' of shape k×n.
 */
#ifndef TRIBUTARY_PORTABLE_SGEMM_H
#define TRIBUTARY_PORTABLE_SGEMM_H

#include <stddef.h>

/* Which SIMD width the micro-kernel was compiled for ("avx512f", "avx2+fma", "sse2/neon", "scalar"). */
const char *portable_sgemm_simd(void);
int portable_sgemm_mr(void);
int portable_sgemm_nr(void);

/*
 * Row-major SGEMM. lda, ldb, ldc are the row strides (in floats) of A, B and C as stored, so for transA
 * A is stored k×m with lda ≥ m, otherwise m×k with lda ≥ k (likewise for B). beta must be 0 or 1 in
 * practice (0 overwrites C, 1 accumulates into it); any other value is honoured too. `threads` ≥ 1 splits
 * the rows of C among that many POSIX threads when the product is large enough to repay starting them.
 * Returns 0, or -1 when scratch memory could not be allocated (C is then unspecified).
 */
int portable_sgemm(int transA, int transB, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                   float beta, float *C, int ldc, int threads);

#endif
