/*
 * Portable blocked SGEMM: the Goto/van de Geijn scheme as laid out by BLIS (Van Zee & van de Geijn, "BLIS:
 * A Framework for Rapidly Instantiating BLAS Functionality", ACM TOMS 41(3), 2015). B is packed into
 * kc×NR column panels that stay in L2/L3, A into MR×kc row panels that stay in L1/L2, and an MR×NR
 * micro-kernel keeps its block of C in registers while it streams the two panels. Transposes cost nothing
 * beyond the packing, which reads A or Aᵀ (B or Bᵀ) as needed.
 *
 * The micro-kernel is written with GCC/Clang vector extensions, so one source compiles to AVX-512, AVX2+FMA,
 * SSE or NEON code for whatever -march the build chose (binding.gyp builds with -march=native on the host
 * that will run it). Edge tiles are computed in full on zero-padded panels and copied out partially.
 */
#include "portable_sgemm.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#define VECTOR_FLOATS 16
#define MR 8
#define SIMD_NAME "avx512f"
#elif defined(__AVX2__) && defined(__FMA__)
#define VECTOR_FLOATS 8
#define MR 6
#define SIMD_NAME "avx2+fma"
#elif defined(__SSE2__) || defined(__ARM_NEON)
#define VECTOR_FLOATS 4
#define MR 4
#define SIMD_NAME "sse2/neon"
#else
#define VECTOR_FLOATS 4
#define MR 4
#define SIMD_NAME "scalar"
#endif

/* Two vectors per row of the register block: enough independent FMA chains to hide their latency. */
#define NR (2 * VECTOR_FLOATS)
/* kc·NR and MR·kc panels fit L1; an MC×KC block of A fits L2; a KC×NC panel of B fits L3. */
#define KC 256
#define MC (MR * 16)
#define NC (NR * 128)
/* Below this many multiply-adds a second thread costs more to start than it saves. */
#define MIN_WORK_PER_THREAD (1 << 21)
#define MAX_THREADS 64

typedef float vfloat __attribute__((vector_size(VECTOR_FLOATS * sizeof(float))));
typedef float vfloat_unaligned __attribute__((vector_size(VECTOR_FLOATS * sizeof(float)), aligned(sizeof(float))));

const char *portable_sgemm_simd(void) { return SIMD_NAME; }
int portable_sgemm_mr(void) { return MR; }
int portable_sgemm_nr(void) { return NR; }

static inline float load_a(const float *A, int lda, int transA, int i, int p) {
  return transA ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
}

/* MR-row panels of the mc×kc block of A' at (i0, p0): panel r holds rows r·MR…, as [p][MR], zero-padded. */
static void pack_a(int transA, const float *A, int lda, int i0, int p0, int mc, int kc, float *packed) {
  for (int ir = 0; ir < mc; ir += MR) {
    const int rows = mc - ir < MR ? mc - ir : MR;
    float *panel = packed + (size_t)ir * kc;
    if (!transA) {
      for (int i = 0; i < MR; i++) {
        if (i < rows) {
          const float *row = A + (size_t)(i0 + ir + i) * lda + p0;
          for (int p = 0; p < kc; p++) panel[(size_t)p * MR + i] = row[p];
        } else {
          for (int p = 0; p < kc; p++) panel[(size_t)p * MR + i] = 0.0f;
        }
      }
    } else {
      /* Aᵀ stored k×m: the MR values of one p are contiguous in memory. */
      for (int p = 0; p < kc; p++) {
        const float *column = A + (size_t)(p0 + p) * lda + i0 + ir;
        float *dst = panel + (size_t)p * MR;
        int i = 0;
        for (; i < rows; i++) dst[i] = column[i];
        for (; i < MR; i++) dst[i] = 0.0f;
      }
    }
  }
}

/* NR-column panels of the kc×nc block of B' at (p0, j0): panel c holds columns c·NR…, as [p][NR]. */
static void pack_b(int transB, const float *B, int ldb, int p0, int j0, int kc, int nc, float *packed) {
  for (int jr = 0; jr < nc; jr += NR) {
    const int cols = nc - jr < NR ? nc - jr : NR;
    float *panel = packed + (size_t)jr * kc;
    if (!transB) {
      for (int p = 0; p < kc; p++) {
        const float *row = B + (size_t)(p0 + p) * ldb + j0 + jr;
        float *dst = panel + (size_t)p * NR;
        int j = 0;
        for (; j < cols; j++) dst[j] = row[j];
        for (; j < NR; j++) dst[j] = 0.0f;
      }
    } else {
      /* Bᵀ stored n×k: column j of B' is row j of the stored matrix. */
      for (int j = 0; j < NR; j++) {
        if (j < cols) {
          const float *row = B + (size_t)(j0 + jr + j) * ldb + p0;
          for (int p = 0; p < kc; p++) panel[(size_t)p * NR + j] = row[p];
        } else {
          for (int p = 0; p < kc; p++) panel[(size_t)p * NR + j] = 0.0f;
        }
      }
    }
  }
}

/* C[0:rows, 0:cols] = beta·C + (packed A panel)·(packed B panel), the register-blocked inner product. */
static void micro_kernel(int kc, const float *restrict a, const float *restrict b, float *restrict c, int ldc,
                         float beta, int rows, int cols) {
  vfloat acc[MR][2];
  for (int i = 0; i < MR; i++) {
    acc[i][0] = (vfloat){0};
    acc[i][1] = (vfloat){0};
  }
  for (int p = 0; p < kc; p++) {
    const vfloat b0 = *(const vfloat *)(b + (size_t)p * NR);
    const vfloat b1 = *(const vfloat *)(b + (size_t)p * NR + VECTOR_FLOATS);
    const float *ap = a + (size_t)p * MR;
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      const float ai = ap[i];
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
  }
  if (rows == MR && cols == NR) {
    for (int i = 0; i < MR; i++) {
      vfloat_unaligned *row = (vfloat_unaligned *)(c + (size_t)i * ldc);
      if (beta == 0.0f) {
        row[0] = acc[i][0];
        row[1] = acc[i][1];
      } else if (beta == 1.0f) {
        row[0] += acc[i][0];
        row[1] += acc[i][1];
      } else {
        row[0] = beta * row[0] + acc[i][0];
        row[1] = beta * row[1] + acc[i][1];
      }
    }
    return;
  }
  float tile[MR][NR] __attribute__((aligned(64)));
  for (int i = 0; i < MR; i++) {
    memcpy(&tile[i][0], &acc[i][0], sizeof(vfloat));
    memcpy(&tile[i][VECTOR_FLOATS], &acc[i][1], sizeof(vfloat));
  }
  for (int i = 0; i < rows; i++) {
    float *row = c + (size_t)i * ldc;
    for (int j = 0; j < cols; j++) row[j] = (beta == 0.0f ? 0.0f : beta * row[j]) + tile[i][j];
  }
}

/* Sum of a vector's lanes. */
static inline float lane_sum(vfloat v) {
  float sum = 0.0f;
  for (int i = 0; i < VECTOR_FLOATS; i++) sum += v[i];
  return sum;
}

/*
 * Products whose output has few columns (n ≤ NR/2, e.g. a velocity field's last layer with d = 2): padding
 * n to NR would waste most of the register block, so each output is instead a dot product of contiguous
 * rows — A' rows against the columns of B' packed as rows (bt). Output element (i, j) is written at
 * C[i·row_stride + j·column_stride], which lets a caller ask for Cᵀ as well.
 */
static void skinny_rows(int transA, const float *A, int lda, int m, int k, const float *bt, int n, float beta,
                        float *C, int row_stride, int column_stride, float *column_scratch) {
#define C_AT(i, j) C[(size_t)(i) * row_stride + (size_t)(j) * column_stride]
#define STORE(i, j, value) C_AT(i, j) = (beta == 0.0f ? 0.0f : beta * C_AT(i, j)) + (value)
  if (!transA) {
    const int kv = k - k % VECTOR_FLOATS;
    for (int i = 0; i < m; i++) {
      const float *a = A + (size_t)i * lda;
      int j = 0;
      for (; j + 4 <= n; j += 4) {
        const float *b0 = bt + (size_t)j * k, *b1 = b0 + k, *b2 = b1 + k, *b3 = b2 + k;
        vfloat s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        for (int p = 0; p < kv; p += VECTOR_FLOATS) {
          const vfloat av = *(const vfloat_unaligned *)(a + p);
          s0 += av * *(const vfloat_unaligned *)(b0 + p);
          s1 += av * *(const vfloat_unaligned *)(b1 + p);
          s2 += av * *(const vfloat_unaligned *)(b2 + p);
          s3 += av * *(const vfloat_unaligned *)(b3 + p);
        }
        float t0 = lane_sum(s0), t1 = lane_sum(s1), t2 = lane_sum(s2), t3 = lane_sum(s3);
        for (int p = kv; p < k; p++) {
          t0 += a[p] * b0[p];
          t1 += a[p] * b1[p];
          t2 += a[p] * b2[p];
          t3 += a[p] * b3[p];
        }
        STORE(i, j, t0);
        STORE(i, j + 1, t1);
        STORE(i, j + 2, t2);
        STORE(i, j + 3, t3);
      }
      for (; j < n; j++) {
        const float *b0 = bt + (size_t)j * k;
        vfloat s0 = {0};
        for (int p = 0; p < kv; p += VECTOR_FLOATS)
          s0 += *(const vfloat_unaligned *)(a + p) * *(const vfloat_unaligned *)(b0 + p);
        float t0 = lane_sum(s0);
        for (int p = kv; p < k; p++) t0 += a[p] * b0[p];
        STORE(i, j, t0);
      }
    }
  } else {
    /* A' = Aᵀ: row p of the stored A holds A'(·, p) contiguously, so accumulate whole columns of C (as
     * rows of column_scratch) with axpy updates, a block of rows at a time to stay in L1. */
    enum { ROWS = 512 };
    for (int i0 = 0; i0 < m; i0 += ROWS) {
      const int rows = m - i0 < ROWS ? m - i0 : ROWS;
      memset(column_scratch, 0, (size_t)n * ROWS * sizeof(float));
      for (int p = 0; p < k; p++) {
        const float *a = A + (size_t)p * lda + i0;
        for (int j = 0; j < n; j++) {
          const float b = bt[(size_t)j * k + p];
          float *column = column_scratch + (size_t)j * ROWS;
          for (int i = 0; i < rows; i++) column[i] += b * a[i];
        }
      }
      for (int j = 0; j < n; j++)
        for (int i = 0; i < rows; i++) STORE(i0 + i, j, column_scratch[(size_t)j * ROWS + i]);
    }
  }
#undef STORE
#undef C_AT
}

/* B' (k×n) as n contiguous rows of length k. */
static void pack_columns(int transB, const float *B, int ldb, int k, int n, float *bt) {
  for (int j = 0; j < n; j++)
    for (int p = 0; p < k; p++) bt[(size_t)j * k + p] = transB ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
}

typedef struct {
  int transA, transB, m, n, k;
  const float *A;
  int lda;
  const float *B;
  int ldb;
  float beta;
  float *C;
  int ldc;
  int row_begin, row_end;
  float *pack_a_buffer, *pack_b_buffer;
} gemm_task;

/* The rows [row_begin, row_end) of C, on the calling thread. */
static void gemm_rows(const gemm_task *t) {
  const int m = t->row_end - t->row_begin;
  const float *A = t->transA ? t->A + t->row_begin : t->A + (size_t)t->row_begin * t->lda;
  float *C = t->C + (size_t)t->row_begin * t->ldc;
  if (t->k == 0) {
    for (int i = 0; i < m; i++)
      for (int j = 0; j < t->n; j++) C[(size_t)i * t->ldc + j] = t->beta == 0.0f ? 0.0f : t->beta * C[(size_t)i * t->ldc + j];
    return;
  }
  for (int jc = 0; jc < t->n; jc += NC) {
    const int nc = t->n - jc < NC ? t->n - jc : NC;
    for (int pc = 0; pc < t->k; pc += KC) {
      const int kc = t->k - pc < KC ? t->k - pc : KC;
      pack_b(t->transB, t->B, t->ldb, pc, jc, kc, nc, t->pack_b_buffer);
      const float beta = pc == 0 ? t->beta : 1.0f;
      for (int ic = 0; ic < m; ic += MC) {
        const int mc = m - ic < MC ? m - ic : MC;
        pack_a(t->transA, A, t->lda, ic, pc, mc, kc, t->pack_a_buffer);
        for (int jr = 0; jr < nc; jr += NR) {
          const int cols = nc - jr < NR ? nc - jr : NR;
          for (int ir = 0; ir < mc; ir += MR) {
            const int rows = mc - ir < MR ? mc - ir : MR;
            micro_kernel(kc, t->pack_a_buffer + (size_t)ir * kc, t->pack_b_buffer + (size_t)jr * kc,
                         C + (size_t)(ic + ir) * t->ldc + jc + jr, t->ldc, beta, rows, cols);
          }
        }
      }
    }
  }
}

static void *gemm_rows_thread(void *task) {
  gemm_rows((const gemm_task *)task);
  return NULL;
}

/* Packing buffers reused across calls (one pair per thread slot), guarded by one lock: the addon may be
 * loaded by several worker_threads of one process, and the buffers are process-wide. */
static pthread_mutex_t scratch_lock = PTHREAD_MUTEX_INITIALIZER;
static float *scratch_a[MAX_THREADS];
static float *scratch_b[MAX_THREADS];
static size_t scratch_a_floats[MAX_THREADS];
static size_t scratch_b_floats[MAX_THREADS];

static float *scratch(float **buffers, size_t *sizes, int slot, size_t floats) {
  if (sizes[slot] >= floats) return buffers[slot];
  free(buffers[slot]);
  /* 64-byte alignment lets the micro-kernel load packed panels with aligned vector loads. */
  const size_t bytes = ((floats * sizeof(float) + 63) / 64) * 64;
  buffers[slot] = (float *)aligned_alloc(64, bytes);
  sizes[slot] = buffers[slot] ? floats : 0;
  return buffers[slot];
}

int portable_sgemm(int transA, int transB, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                   float beta, float *C, int ldc, int threads) {
  if (m <= 0 || n <= 0) return 0;
  const double work = (double)m * n * (k > 0 ? k : 1);
  int parts = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
  while (parts > 1 && (work / parts < MIN_WORK_PER_THREAD || m / parts < MR)) parts--;

  const int kc_max = k < KC ? (k > 0 ? k : 1) : KC;
  const int nc_max = n < NC ? ((n + NR - 1) / NR) * NR : NC;
  const int rows_per_part = ((m + parts - 1) / parts + MR - 1) / MR * MR;
  const int mc_max = rows_per_part < MC ? ((rows_per_part + MR - 1) / MR) * MR : MC;

  pthread_mutex_lock(&scratch_lock);
  if (k > 0 && (n <= NR / 2 || m <= NR / 2)) {
    /* Few output columns: dot products. Few output rows: the same on Cᵀ = B'ᵀ·A'ᵀ, written transposed. */
    const int columns_few = n <= NR / 2;
    const int columns_out = columns_few ? n : m;
    float *bt = scratch(scratch_b, scratch_b_floats, 0, (size_t)columns_out * k);
    float *column_scratch = scratch(scratch_a, scratch_a_floats, 0, (size_t)columns_out * 512);
    int status = -1;
    if (bt && column_scratch) {
      if (columns_few) {
        pack_columns(transB, B, ldb, k, n, bt);
        skinny_rows(transA, A, lda, m, k, bt, n, beta, C, ldc, 1, column_scratch);
      } else {
        pack_columns(!transA, A, lda, k, m, bt);
        skinny_rows(!transB, B, ldb, n, k, bt, m, beta, C, 1, ldc, column_scratch);
      }
      status = 0;
    }
    pthread_mutex_unlock(&scratch_lock);
    return status;
  }
  gemm_task tasks[MAX_THREADS];
  int status = 0;
  for (int t = 0; t < parts; t++) {
    float *pa = scratch(scratch_a, scratch_a_floats, t, (size_t)mc_max * kc_max);
    float *pb = scratch(scratch_b, scratch_b_floats, t, (size_t)kc_max * nc_max);
    if (!pa || !pb) {
      status = -1;
      break;
    }
    const int begin = t * rows_per_part;
    const int end = begin + rows_per_part < m ? begin + rows_per_part : m;
    tasks[t] = (gemm_task){transA, transB, m, n, k, A, lda, B, ldb, beta, C, ldc, begin, end, pa, pb};
  }
  if (status == 0) {
    pthread_t handles[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    /* Parts 1… on new threads, part 0 here; a thread that fails to start runs here afterwards. */
    for (int t = 1; t < parts; t++)
      if (tasks[t].row_begin < tasks[t].row_end)
        started[t] = pthread_create(&handles[t], NULL, gemm_rows_thread, &tasks[t]) == 0;
    if (tasks[0].row_begin < tasks[0].row_end) gemm_rows(&tasks[0]);
    for (int t = 1; t < parts; t++) {
      if (started[t])
        pthread_join(handles[t], NULL);
      else if (tasks[t].row_begin < tasks[t].row_end)
        gemm_rows(&tasks[t]);
    }
  }
  pthread_mutex_unlock(&scratch_lock);
  return status;
}
