/*
 * tributary_blas: matrix products for the TensorFlow.js WASM backend, computed natively on the WASM heap.
 *
 * The JavaScript side (server/engines/nativeKernels.ts) passes the backend's WebAssembly memory (an
 * ArrayBuffer) and byte offsets of each tensor inside it; this addon reads A and B and writes C in place,
 * so no tensor is copied. The product is one SGEMM per batch entry — OpenBLAS's cblas_sgemm when the build
 * found it (TRIBUTARY_HAVE_OPENBLAS), else the portable blocked SGEMM of portable_sgemm.c — followed by the
 * epilogue of tfjs's _FusedMatMul: a bias broadcast along rows, then an activation. Besides the products:
 * single-pass kernels for what a training step streams through memory (Sum, Sigmoid, SiLU, Adam, Concat),
 * a whole SiLU MLP in one call each way (mlpForward, mlpBackward) and tfjs's normal sampler (randomNormal).
 *
 * Plain Node-API (node_api.h, ABI-stable C), so the binary does not depend on V8's C++ API.
 */
#define NAPI_VERSION 8
#include <math.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portable_sgemm.h"

#ifdef TRIBUTARY_HAVE_OPENBLAS
#include <cblas.h>
#endif

/* Same order as the activation codes in nativeKernels.ts. */
enum activation { ACT_LINEAR = 0, ACT_RELU = 1, ACT_RELU6 = 2, ACT_LEAKYRELU = 3, ACT_SIGMOID = 4, ACT_ELU = 5 };
enum engine { ENGINE_BEST = 0, ENGINE_OPENBLAS = 1, ENGINE_PORTABLE = 2 };

static int portable_threads = 1;

#define CHECK(call)                                                                                             \
  do {                                                                                                          \
    if ((call) != napi_ok) {                                                                                    \
      napi_throw_error(env, NULL, "tributary_blas: Node-API call failed: " #call);                             \
      return NULL;                                                                                              \
    }                                                                                                           \
  } while (0)

#define THROW(message)                                                                                          \
  do {                                                                                                          \
    napi_throw_error(env, NULL, "tributary_blas: " message);                                                   \
    return NULL;                                                                                                \
  } while (0)

static int have_openblas(void) {
#ifdef TRIBUTARY_HAVE_OPENBLAS
  return 1;
#else
  return 0;
#endif
}

/* Applies tfjs's fused activations (tfjs-core ops/fused_util.ts applyActivation) in place. */
static void apply_activation(float *c, size_t count, int activation, float alpha) {
  switch (activation) {
    case ACT_RELU:
      for (size_t i = 0; i < count; i++) c[i] = c[i] > 0.0f ? c[i] : 0.0f;
      break;
    case ACT_RELU6:
      for (size_t i = 0; i < count; i++) c[i] = c[i] < 0.0f ? 0.0f : c[i] > 6.0f ? 6.0f : c[i];
      break;
    case ACT_LEAKYRELU:
      for (size_t i = 0; i < count; i++) c[i] = c[i] < 0.0f ? alpha * c[i] : c[i];
      break;
    case ACT_SIGMOID:
      for (size_t i = 0; i < count; i++) c[i] = 1.0f / (1.0f + expf(-c[i]));
      break;
    case ACT_ELU:
      for (size_t i = 0; i < count; i++) c[i] = c[i] > 0.0f ? c[i] : expm1f(c[i]);
      break;
    default:
      break;
  }
}

/* threads: for the portable SGEMM (OpenBLAS uses its own setting). */
static void sgemm_with(int engine, int threads, int transA, int transB, int m, int n, int k, const float *A,
                       const float *B, float beta, float *C, int *failed) {
  const int lda = transA ? m : k;
  const int ldb = transB ? k : n;
#ifdef TRIBUTARY_HAVE_OPENBLAS
  if (engine != ENGINE_PORTABLE && k > 0) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, m, n, k,
                1.0f, A, lda, B, ldb, beta, C, n);
    return;
  }
#else
  (void)engine;
#endif
  if (portable_sgemm(transA, transB, m, n, k, A, lda, B, ldb, beta, C, n, threads) != 0) *failed = 1;
}

static void sgemm(int engine, int transA, int transB, int m, int n, int k, const float *A, const float *B, float beta,
                  float *C, int *failed) {
  sgemm_with(engine, portable_threads, transA, transB, m, n, k, A, B, beta, C, failed);
}

static napi_value make_string(napi_env env, const char *text) {
  napi_value value;
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value) != napi_ok) return NULL;
  return value;
}

static int get_int(napi_env env, napi_value value, int64_t *out) {
  return napi_get_value_int64(env, value, out) == napi_ok;
}

/* An optional Uint32Array of per-batch matrix indices (null: the identity). */
static int get_batch_index(napi_env env, napi_value value, uint32_t **data, size_t *length) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return 0;
  if (type == napi_null || type == napi_undefined) {
    *data = NULL;
    *length = 0;
    return 1;
  }
  napi_typedarray_type array_type;
  void *raw;
  if (napi_get_typedarray_info(env, value, &array_type, length, &raw, NULL, NULL) != napi_ok) return 0;
  if (array_type != napi_uint32_array) return 0;
  *data = (uint32_t *)raw;
  return 1;
}

/*
 * matmul(heap, engine, batch, m, n, k, transA, transB, aOffset, bOffset, cOffset, aIndex, bIndex,
 *        biasOffset, biasLength, activation, alpha)
 *
 * For b in [0, batch): C_b = act(op(A_{aIndex[b]}) · op(B_{bIndex[b]}) + bias), where A_i is the i-th m×k
 * (k×m when transposed) matrix at aOffset, B_i the i-th k×n (n×k) matrix at bOffset, and C_b the b-th m×n
 * matrix at cOffset; offsets in bytes, every matrix dense and row-major. biasOffset < 0 means no bias;
 * otherwise biasLength is 1 (a scalar) or n (one value per column, broadcast over rows). Every range is
 * checked against the heap's length before anything is read or written.
 */
static napi_value matmul(napi_env env, napi_callback_info info) {
  size_t argc = 17;
  napi_value argv[17];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 17) THROW("matmul expects 17 arguments");

  void *heap_data;
  size_t heap_bytes;
  if (napi_get_arraybuffer_info(env, argv[0], &heap_data, &heap_bytes) != napi_ok)
    THROW("matmul: heap must be an ArrayBuffer");

  int64_t engine, batch, m, n, k, a_offset, b_offset, c_offset, bias_offset, bias_length, activation;
  bool trans_a, trans_b;
  double alpha;
  if (!get_int(env, argv[1], &engine) || !get_int(env, argv[2], &batch) || !get_int(env, argv[3], &m) ||
      !get_int(env, argv[4], &n) || !get_int(env, argv[5], &k) || !get_int(env, argv[8], &a_offset) ||
      !get_int(env, argv[9], &b_offset) || !get_int(env, argv[10], &c_offset) ||
      !get_int(env, argv[13], &bias_offset) || !get_int(env, argv[14], &bias_length) ||
      !get_int(env, argv[15], &activation))
    THROW("matmul: integer arguments expected");
  if (napi_get_value_bool(env, argv[6], &trans_a) != napi_ok || napi_get_value_bool(env, argv[7], &trans_b) != napi_ok)
    THROW("matmul: transposeA and transposeB must be booleans");
  if (napi_get_value_double(env, argv[16], &alpha) != napi_ok) THROW("matmul: alpha must be a number");

  uint32_t *a_index, *b_index;
  size_t a_index_length, b_index_length;
  if (!get_batch_index(env, argv[11], &a_index, &a_index_length) ||
      !get_batch_index(env, argv[12], &b_index, &b_index_length))
    THROW("matmul: batch indices must be Uint32Array or null");

  if (batch < 0 || m < 0 || n < 0 || k < 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
    THROW("matmul: negative or oversized dimension");
  if (engine < ENGINE_BEST || engine > ENGINE_PORTABLE) THROW("matmul: unknown engine");
  if (engine == ENGINE_OPENBLAS && !have_openblas()) THROW("matmul: this build has no OpenBLAS");
  if (activation < ACT_LINEAR || activation > ACT_ELU) THROW("matmul: unknown activation code");
  if ((a_index && a_index_length != (size_t)batch) || (b_index && b_index_length != (size_t)batch))
    THROW("matmul: batch index length differs from batch");
  if (bias_offset >= 0 && bias_length != 1 && bias_length != n) THROW("matmul: bias length must be 1 or n");

  /* Bounds: the largest matrix index used of A and B, every C, the bias; all 4-byte aligned. */
  const uint64_t a_size = (uint64_t)m * k * 4, b_size = (uint64_t)k * n * 4, c_size = (uint64_t)m * n * 4;
  uint64_t a_count = batch > 0 ? 1 : 0, b_count = a_count;
  for (int64_t i = 0; i < batch; i++) {
    const uint64_t ai = a_index ? a_index[i] : (uint64_t)i, bi = b_index ? b_index[i] : (uint64_t)i;
    if (ai + 1 > a_count) a_count = ai + 1;
    if (bi + 1 > b_count) b_count = bi + 1;
  }
  const int misaligned = (a_offset | b_offset | c_offset | (bias_offset >= 0 ? bias_offset : 0)) & 3;
  if (misaligned || a_offset < 0 || b_offset < 0 || c_offset < 0 || (uint64_t)a_offset + a_count * a_size > heap_bytes ||
      (uint64_t)b_offset + b_count * b_size > heap_bytes || (uint64_t)c_offset + (uint64_t)batch * c_size > heap_bytes ||
      (bias_offset >= 0 && (uint64_t)bias_offset + (uint64_t)bias_length * 4 > heap_bytes))
    THROW("matmul: a tensor lies outside the heap (or is not 4-byte aligned)");

  char *base = (char *)heap_data;
  const float *bias = bias_offset >= 0 ? (const float *)(base + bias_offset) : NULL;
  int failed = 0;
  for (int64_t i = 0; i < batch && !failed; i++) {
    const uint64_t ai = a_index ? a_index[i] : (uint64_t)i, bi = b_index ? b_index[i] : (uint64_t)i;
    const float *A = (const float *)(base + a_offset + ai * a_size);
    const float *B = (const float *)(base + b_offset + bi * b_size);
    float *C = (float *)(base + c_offset + (uint64_t)i * c_size);
    float beta = 0.0f;
    if (bias) {
      /* The bias goes into C first and the product is accumulated onto it: no second pass over C. */
      for (int64_t r = 0; r < m; r++) {
        float *row = C + r * n;
        if (bias_length == 1)
          for (int64_t j = 0; j < n; j++) row[j] = bias[0];
        else
          memcpy(row, bias, (size_t)n * sizeof(float));
      }
      beta = 1.0f;
    }
    if (m > 0 && n > 0) {
      if (k > 0)
        sgemm((int)engine, trans_a, trans_b, (int)m, (int)n, (int)k, A, B, beta, C, &failed);
      else if (!bias)
        memset(C, 0, (size_t)c_size);
    }
    apply_activation(C, (size_t)(m * n), (int)activation, (float)alpha);
  }
  if (failed) THROW("matmul: out of memory for the portable SGEMM's packing buffers");
  return NULL;
}

/*
 * sum(heap, xOffset, outOffset, outer, reduce, inner): out[p, q] = Σ_r x[p, r, q] for x viewed as a dense
 * outer×reduce×inner float32 array — every reduction over one contiguous block of axes (tfjs's Sum with
 * leading, trailing or middle axes) without the transpose the WASM kernel makes first. Offsets in bytes.
 */
static napi_value sum(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 6) THROW("sum expects 6 arguments");
  void *heap_data;
  size_t heap_bytes;
  if (napi_get_arraybuffer_info(env, argv[0], &heap_data, &heap_bytes) != napi_ok)
    THROW("sum: heap must be an ArrayBuffer");
  int64_t x_offset, out_offset, outer, reduce, inner;
  if (!get_int(env, argv[1], &x_offset) || !get_int(env, argv[2], &out_offset) || !get_int(env, argv[3], &outer) ||
      !get_int(env, argv[4], &reduce) || !get_int(env, argv[5], &inner))
    THROW("sum: integer arguments expected");
  if (outer < 0 || reduce < 0 || inner < 0 || x_offset < 0 || out_offset < 0 || ((x_offset | out_offset) & 3))
    THROW("sum: negative or misaligned argument");
  const uint64_t x_bytes = (uint64_t)outer * reduce * inner * 4, out_bytes = (uint64_t)outer * inner * 4;
  if ((uint64_t)x_offset + x_bytes > heap_bytes || (uint64_t)out_offset + out_bytes > heap_bytes)
    THROW("sum: a tensor lies outside the heap");
  const float *x = (const float *)((char *)heap_data + x_offset);
  float *out = (float *)((char *)heap_data + out_offset);
  for (int64_t p = 0; p < outer; p++) {
    const float *block = x + (size_t)(p * reduce * inner);
    float *row = out + (size_t)(p * inner);
    if (inner == 1) {
      /* Contiguous run: eight running partial sums (vectorisable), then combined. */
      float partial[8] = {0};
      int64_t r = 0;
      for (; r + 8 <= reduce; r += 8)
        for (int lane = 0; lane < 8; lane++) partial[lane] += block[r + lane];
      float total = 0.0f;
      for (; r < reduce; r++) total += block[r];
      row[0] = total + ((partial[0] + partial[4]) + (partial[1] + partial[5])) +
               ((partial[2] + partial[6]) + (partial[3] + partial[7]));
    } else {
      memset(row, 0, (size_t)inner * sizeof(float));
      for (int64_t r = 0; r < reduce; r++) {
        const float *line = block + (size_t)(r * inner);
        for (int64_t q = 0; q < inner; q++) row[q] += line[q];
      }
    }
  }
  return NULL;
}

/*
 * concat(heap, outOffset, batch, inOffsets, rowBytes): tfjs's Concat with each input i viewed as batch rows
 * of rowBytes[i] bytes; output row b is input 0's row b, then input 1's, …. Offsets in bytes (Uint32Arrays
 * with one entry per input).
 */
static napi_value concat(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 5) THROW("concat expects 5 arguments");
  void *heap_data;
  size_t heap_bytes;
  if (napi_get_arraybuffer_info(env, argv[0], &heap_data, &heap_bytes) != napi_ok)
    THROW("concat: heap must be an ArrayBuffer");
  int64_t out_offset, batch;
  if (!get_int(env, argv[1], &out_offset) || !get_int(env, argv[2], &batch) || out_offset < 0 || batch < 0)
    THROW("concat: non-negative integer offset and batch expected");
  napi_typedarray_type type;
  size_t count, count_rows;
  void *offsets_raw, *rows_raw;
  if (napi_get_typedarray_info(env, argv[3], &type, &count, &offsets_raw, NULL, NULL) != napi_ok ||
      type != napi_uint32_array ||
      napi_get_typedarray_info(env, argv[4], &type, &count_rows, &rows_raw, NULL, NULL) != napi_ok ||
      type != napi_uint32_array || count != count_rows)
    THROW("concat: inOffsets and rowBytes must be Uint32Arrays of one length");
  const uint32_t *in_offsets = (const uint32_t *)offsets_raw, *row_bytes = (const uint32_t *)rows_raw;
  uint64_t out_row = 0;
  for (size_t i = 0; i < count; i++) {
    if ((uint64_t)in_offsets[i] + (uint64_t)batch * row_bytes[i] > heap_bytes)
      THROW("concat: an input lies outside the heap");
    out_row += row_bytes[i];
  }
  if ((uint64_t)out_offset + (uint64_t)batch * out_row > heap_bytes) THROW("concat: the output lies outside the heap");
  char *base = (char *)heap_data, *out = base + out_offset;
  for (int64_t b = 0; b < batch; b++)
    for (size_t i = 0; i < count; i++) {
      memcpy(out, base + in_offsets[i] + (uint64_t)b * row_bytes[i], row_bytes[i]);
      out += row_bytes[i];
    }
  return NULL;
}

/* 16 lanes: one AVX-512 register, two AVX2 ones, four SSE/NEON ones — GCC splits wider vectors itself. */
typedef float f32x16 __attribute__((vector_size(64)));
typedef int32_t i32x16 __attribute__((vector_size(64)));
typedef float f32x16_unaligned __attribute__((vector_size(64), aligned(4)));

/*
 * e^x for x in [-87, 0] (the caller clamps), after Cephes expf (S. L. Moshier, Cephes Math Library): x =
 * n·ln 2 + r with |r| ≤ ln2/2 (ln 2 split in two parts, so the reduction is exact), e^r by Cephes's
 * degree-6 polynomial, 2^n assembled in the exponent bits. Relative error about 1 ulp.
 */
static inline f32x16 exp_cephes(f32x16 x) {
  /* Round to nearest by the 1.5·2^23 trick (exact for |x·log2 e| < 2^22). */
  const f32x16 n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const f32x16 r = x - n * 0.693359375f + n * 2.12194440e-4f;
  f32x16 p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const f32x16 er = p * r * r + r + 1.0f;
  const i32x16 exponent = (__builtin_convertvector(n, i32x16) + 127) << 23;
  return er * (f32x16)exponent;
}

/* Lane-wise mask ? a : b (C has no vector ternary; comparisons give all-ones or all-zero lanes). */
static inline f32x16 select16(i32x16 mask, f32x16 a, f32x16 b) {
  return (f32x16)(((i32x16)a & mask) | ((i32x16)b & ~mask));
}

/* σ(x) = 1/(1+z) for x ≥ 0 and z/(1+z) otherwise, z = e^-|x|: neither overflows, small σ stay accurate. */
static inline f32x16 sigmoid16(f32x16 v) {
  const f32x16 limit = (f32x16){0} + 87.0f;
  const f32x16 magnitude = (f32x16)((i32x16)v & 0x7fffffff);
  const f32x16 z = exp_cephes(-select16(magnitude <= limit, magnitude, limit));
  const f32x16 s = 1.0f / (1.0f + z);
  return select16(v == v, select16(v < 0.0f, z * s, s), v); /* NaN stays NaN */
}

static void sigmoid_array(const float *x, float *out, size_t count) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16) *(f32x16_unaligned *)(out + i) = sigmoid16(*(const f32x16_unaligned *)(x + i));
  if (i < count) {
    f32x16 tail = {0};
    memcpy(&tail, x + i, (count - i) * sizeof(float));
    tail = sigmoid16(tail);
    memcpy(out + i, &tail, (count - i) * sizeof(float));
  }
}

/*
 * sigmoid(heap, xOffset, outOffset, count): out = 1 / (1 + e^-x), tfjs's Sigmoid for float32. Written as
 * z = e^-|x|, σ = 1/(1+z) for x ≥ 0 and z/(1+z) otherwise, so that neither branch overflows and small
 * outputs keep their relative accuracy; |x| is clamped at 87, where σ is 1 or below 1.7e-38 anyway.
 */
static napi_value sigmoid(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 4) THROW("sigmoid expects 4 arguments");
  void *heap_data;
  size_t heap_bytes;
  if (napi_get_arraybuffer_info(env, argv[0], &heap_data, &heap_bytes) != napi_ok)
    THROW("sigmoid: heap must be an ArrayBuffer");
  int64_t x_offset, out_offset, count;
  if (!get_int(env, argv[1], &x_offset) || !get_int(env, argv[2], &out_offset) || !get_int(env, argv[3], &count))
    THROW("sigmoid: integer arguments expected");
  if (count < 0 || x_offset < 0 || out_offset < 0 || ((x_offset | out_offset) & 3) ||
      (uint64_t)x_offset + (uint64_t)count * 4 > heap_bytes || (uint64_t)out_offset + (uint64_t)count * 4 > heap_bytes)
    THROW("sigmoid: a tensor lies outside the heap (or is misaligned)");
  sigmoid_array((const float *)((char *)heap_data + x_offset), (float *)((char *)heap_data + out_offset), (size_t)count);
  return NULL;
}

/*
 * SiLU, y = x·σ(x), and its vector-Jacobian product dx = dy·σ(x)·(1 + x·(1 − σ(x))) (Elfwing et al. 2018),
 * one pass each. Built from tfjs ops the forward pass is two kernels (Sigmoid, Multiply) and autodiff's
 * backward pass six, each streaming a [batch, hidden] array through memory: these fused loops read and
 * write each element once.
 */
static void silu_array(const float *x, float *out, size_t count) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const f32x16 v = *(const f32x16_unaligned *)(x + i);
    *(f32x16_unaligned *)(out + i) = v * sigmoid16(v);
  }
  if (i < count) {
    f32x16 tail = {0};
    memcpy(&tail, x + i, (count - i) * sizeof(float));
    tail = tail * sigmoid16(tail);
    memcpy(out + i, &tail, (count - i) * sizeof(float));
  }
}

static inline f32x16 silu_grad16(f32x16 dy, f32x16 v) {
  const f32x16 s = sigmoid16(v);
  return dy * s * (1.0f + v * (1.0f - s));
}

static void silu_grad_array(const float *dy, const float *x, float *out, size_t count) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16)
    *(f32x16_unaligned *)(out + i) =
        silu_grad16(*(const f32x16_unaligned *)(dy + i), *(const f32x16_unaligned *)(x + i));
  if (i < count) {
    f32x16 tail_dy = {0}, tail_x = {0};
    memcpy(&tail_dy, dy + i, (count - i) * sizeof(float));
    memcpy(&tail_x, x + i, (count - i) * sizeof(float));
    tail_x = silu_grad16(tail_dy, tail_x);
    memcpy(out + i, &tail_x, (count - i) * sizeof(float));
  }
}

static int float_range_ok(int64_t offset, int64_t count, size_t heap_bytes) {
  return offset >= 0 && (offset & 3) == 0 && (uint64_t)offset + (uint64_t)count * 4 <= heap_bytes;
}

/* silu(heap, xOffset, outOffset, count): out = x·σ(x). */
static napi_value silu(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 4) THROW("silu expects 4 arguments");
  void *heap_data;
  size_t heap_bytes;
  if (napi_get_arraybuffer_info(env, argv[0], &heap_data, &heap_bytes) != napi_ok)
    THROW("silu: heap must be an ArrayBuffer");
  int64_t x_offset, out_offset, count;
  if (!get_int(env, argv[1], &x_offset) || !get_int(env, argv[2], &out_offset) || !get_int(env, argv[3], &count))
    THROW("silu: integer arguments expected");
  if (count < 0 || !float_range_ok(x_offset, count, heap_bytes) || !float_range_ok(out_offset, count, heap_bytes))
    THROW("silu: a tensor lies outside the heap (or is misaligned)");
  silu_array((const float *)((char *)heap_data + x_offset), (float *)((char *)heap_data + out_offset), (size_t)count);
  return NULL;
}

/* siluGrad(heap, dyOffset, xOffset, outOffset, count): out = dy·σ(x)·(1 + x·(1 − σ(x))). */
static napi_value silu_grad(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 5) THROW("siluGrad expects 5 arguments");
  void *heap_data;
  size_t heap_bytes;
  if (napi_get_arraybuffer_info(env, argv[0], &heap_data, &heap_bytes) != napi_ok)
    THROW("siluGrad: heap must be an ArrayBuffer");
  int64_t dy_offset, x_offset, out_offset, count;
  if (!get_int(env, argv[1], &dy_offset) || !get_int(env, argv[2], &x_offset) ||
      !get_int(env, argv[3], &out_offset) || !get_int(env, argv[4], &count))
    THROW("siluGrad: integer arguments expected");
  if (count < 0 || !float_range_ok(dy_offset, count, heap_bytes) || !float_range_ok(x_offset, count, heap_bytes) ||
      !float_range_ok(out_offset, count, heap_bytes))
    THROW("siluGrad: a tensor lies outside the heap (or is misaligned)");
  char *base = (char *)heap_data;
  silu_grad_array((const float *)(base + dy_offset), (const float *)(base + x_offset), (float *)(base + out_offset),
                  (size_t)count);
  return NULL;
}

/*
 * adam(heap, param, grad, m, v, outParam, outM, outV, count, lr, beta1, beta2, epsilon, correction1,
 * correction2): one Adam step (Kingma & Ba 2015, Algorithm 1, in tfjs's AdamOptimizer form) over a
 * variable in one pass:
 *   m' = β1·m + (1 − β1)·g,   v' = β2·v + (1 − β2)·g²,
 *   θ' = θ − lr · (m'/c1) / (ε + √(v'/c2)),   c1 = 1 − β1^t, c2 = 1 − β2^t.
 * tfjs spends about a dozen kernels (each a pass over memory) on this per variable.
 */
static napi_value adam(napi_env env, napi_callback_info info) {
  size_t argc = 15;
  napi_value argv[15];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 15) THROW("adam expects 15 arguments");
  void *heap_data;
  size_t heap_bytes;
  if (napi_get_arraybuffer_info(env, argv[0], &heap_data, &heap_bytes) != napi_ok)
    THROW("adam: heap must be an ArrayBuffer");
  int64_t offsets[7], count;
  for (int i = 0; i < 7; i++)
    if (!get_int(env, argv[1 + i], &offsets[i])) THROW("adam: integer offsets expected");
  if (!get_int(env, argv[8], &count) || count < 0) THROW("adam: count must be a non-negative integer");
  for (int i = 0; i < 7; i++)
    if (!float_range_ok(offsets[i], count, heap_bytes)) THROW("adam: a tensor lies outside the heap (or is misaligned)");
  double hyper[6];
  for (int i = 0; i < 6; i++)
    if (napi_get_value_double(env, argv[9 + i], &hyper[i]) != napi_ok) THROW("adam: numeric hyperparameters expected");
  char *base = (char *)heap_data;
  const float *param = (const float *)(base + offsets[0]);
  const float *grad = (const float *)(base + offsets[1]);
  const float *m = (const float *)(base + offsets[2]);
  const float *v = (const float *)(base + offsets[3]);
  float *out_param = (float *)(base + offsets[4]);
  float *out_m = (float *)(base + offsets[5]);
  float *out_v = (float *)(base + offsets[6]);
  const float lr = (float)hyper[0], beta1 = (float)hyper[1], beta2 = (float)hyper[2], epsilon = (float)hyper[3];
  const float inv_c1 = (float)(1.0 / hyper[4]), inv_c2 = (float)(1.0 / hyper[5]);
  for (int64_t i = 0; i < count; i++) {
    const float g = grad[i];
    const float m_next = beta1 * m[i] + (1.0f - beta1) * g;
    const float v_next = beta2 * v[i] + (1.0f - beta2) * g * g;
    out_m[i] = m_next;
    out_v[i] = v_next;
    out_param[i] = param[i] - lr * (m_next * inv_c1) / (epsilon + sqrtf(v_next * inv_c2));
  }
  return NULL;
}

/*
 * A fused multilayer perceptron: z_i = a_{i−1}·W_i + b_i for layers i = 0 … L−1 (a_{−1} = x), a_i = SiLU(z_i)
 * for the hidden layers, y = z_{L−1} (the last layer linear). Built from tfjs kernels a training step of
 * such a model runs about sixty kernels, each with the engine's bookkeeping; here it is one call forward
 * and one backward, with the same products (one SGEMM per layer and direction, transposes by flag).
 *
 * Shapes come as `widths` (Uint32Array [w_0, …, w_L]: x is rows×w_0, W_i is w_i×w_{i+1}, b_i has w_{i+1}
 * entries, y is rows×w_L) and `params` (Uint32Array [W_0, b_0, W_1, b_1, …] of byte offsets in the heap).
 * The workspace keeps what the backward pass needs: for each hidden layer h, z_h then a_h, each rows×w_{h+1},
 * one after the other — 2·rows·Σ_{h=1}^{L−1} w_h floats in all.
 *
 * Threads: every row of the batch goes through the network independently, except for the weight
 * gradients, which sum over rows. So with OpenBLAS and T threads the batch is cut into T blocks of rows,
 * each taken through all layers (both ways) by one thread with single-threaded products, and the partial
 * weight gradients are added at the end: one fork and join per call instead of one per product, and
 * products of 1024/T rows, which a single core runs near its peak where a T-way split of each small
 * product does not (measured: about 1.7× on the reference flow's products at d = 64, 2 cores). The
 * portable SGEMM serialises concurrent calls (its packing buffers are process-wide), so with it the
 * products are split as usual instead.
 */
typedef struct {
  int64_t rows;
  int layers;
  const uint32_t *widths;
  const uint32_t *params;
  uint64_t workspace_floats; /* 2·rows·(sum of the hidden widths) */
  int max_hidden;            /* the widest hidden layer, 0 without hidden layers */
  uint64_t z_at[1024];       /* where each hidden layer's z sits in the workspace (its a follows, rows·w later) */
  uint64_t grad_at[1024];    /* where each layer's dW sits in packed gradients (its db follows) */
  uint64_t param_floats;     /* Σ w_i·w_{i+1} + w_{i+1} */
} mlp_shape;

static int get_uint32_array(napi_env env, napi_value value, const uint32_t **data, size_t *length) {
  napi_typedarray_type type;
  void *raw;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, NULL, NULL) != napi_ok) return 0;
  if (type != napi_uint32_array) return 0;
  *data = (const uint32_t *)raw;
  return 1;
}

/* Reads rows, widths and params (arguments 2–4) and checks every weight and bias against the heap. */
static const char *mlp_read_shape(napi_env env, napi_value *argv, size_t heap_bytes, mlp_shape *shape) {
  size_t widths_length, params_length;
  if (!get_int(env, argv[0], &shape->rows) || shape->rows < 0 || shape->rows > INT32_MAX)
    return "rows must be an integer in [0, 2^31)";
  if (!get_uint32_array(env, argv[1], &shape->widths, &widths_length) ||
      !get_uint32_array(env, argv[2], &shape->params, &params_length))
    return "widths and params must be Uint32Arrays";
  if (widths_length < 2 || widths_length > 1025 || params_length != 2 * (widths_length - 1))
    return "widths must have L + 1 entries (1 ≤ L ≤ 1024) and params 2·L";
  shape->layers = (int)widths_length - 1;
  shape->max_hidden = 0;
  for (int i = 0; i <= shape->layers; i++)
    if (shape->widths[i] < 1 || shape->widths[i] > INT32_MAX) return "every width must be in [1, 2^31)";
  uint64_t z = 0, g = 0;
  for (int i = 0; i < shape->layers; i++) {
    const uint64_t fan_in = shape->widths[i], fan_out = shape->widths[i + 1];
    if (!float_range_ok(shape->params[2 * i], (int64_t)(fan_in * fan_out), heap_bytes) ||
        !float_range_ok(shape->params[2 * i + 1], (int64_t)fan_out, heap_bytes))
      return "a weight or bias lies outside the heap (or is misaligned)";
    shape->z_at[i] = z;
    shape->grad_at[i] = g;
    if (i < shape->layers - 1) {
      z += 2 * (uint64_t)shape->rows * fan_out;
      if ((int)fan_out > shape->max_hidden) shape->max_hidden = (int)fan_out;
    }
    g += fan_in * fan_out + fan_out;
  }
  shape->workspace_floats = z;
  shape->param_floats = g;
  return NULL;
}

static napi_value throw_mlp_error(napi_env env, const char *function, const char *problem) {
  char message[256];
  snprintf(message, sizeof message, "tributary_blas: %s: %s", function, problem);
  napi_throw_error(env, NULL, message);
  return NULL;
}

static int get_engine(napi_env env, napi_value value, int64_t *engine) {
  if (!get_int(env, value, engine) || *engine < ENGINE_BEST || *engine > ENGINE_PORTABLE) return 0;
  return *engine != ENGINE_OPENBLAS || have_openblas();
}

/* One thread's share of a call: rows [r0, r0 + nr) of the batch, through every layer. */
typedef struct {
  const mlp_shape *shape;
  int engine;
  int threads; /* for each product of this part: 1 when parts run side by side */
  char *base;
  const float *x;
  float *ws;
  float *y;            /* forward */
  const float *dy;     /* backward */
  float *dx;           /* the input gradient, or NULL */
  float *grads;        /* packed [dW_0, db_0, …] over this part's rows, or NULL */
  float *scratch;      /* backward: 2·nr·max_hidden floats */
  int64_t r0, nr;
  int failed;
} mlp_part;

static void mlp_forward_part(mlp_part *p) {
  const mlp_shape *s = p->shape;
  const uint32_t *w = s->widths;
  const int64_t rows = s->rows, r0 = p->r0, nr = p->nr;
  const float *in = p->x + r0 * w[0];
  for (int i = 0; i < s->layers && !p->failed; i++) {
    const int fan_in = (int)w[i], fan_out = (int)w[i + 1];
    const float *weight = (const float *)(p->base + s->params[2 * i]);
    const float *bias = (const float *)(p->base + s->params[2 * i + 1]);
    const int hidden = i < s->layers - 1;
    float *z = (hidden ? p->ws + s->z_at[i] : p->y) + r0 * fan_out;
    /* The bias goes into z first and the product is accumulated onto it, as in matmul. */
    for (int64_t r = 0; r < nr; r++) memcpy(z + r * fan_out, bias, (size_t)fan_out * sizeof(float));
    if (nr > 0) sgemm_with(p->engine, p->threads, 0, 0, (int)nr, fan_out, fan_in, in, weight, 1.0f, z, &p->failed);
    if (hidden) {
      float *a = p->ws + s->z_at[i] + rows * fan_out + r0 * fan_out;
      silu_array(z, a, (size_t)(nr * fan_out));
      in = a;
    }
  }
}

/* dz = da·SiLU'(z) in place over an nr×width block, and — when db is given — db = the column sums of dz. */
static void silu_grad_rows(float *da, const float *z, int64_t rows, int width, float *db) {
  if (db) memset(db, 0, (size_t)width * sizeof(float));
  for (int64_t r = 0; r < rows; r++) {
    float *row = da + r * width;
    silu_grad_array(row, z + r * width, row, (size_t)width);
    if (db)
      for (int j = 0; j < width; j++) db[j] += row[j];
  }
}

static void column_sums(const float *x, int64_t rows, int width, float *out) {
  memset(out, 0, (size_t)width * sizeof(float));
  for (int64_t r = 0; r < rows; r++) {
    const float *row = x + r * width;
    for (int j = 0; j < width; j++) out[j] += row[j];
  }
}

static void mlp_backward_part(mlp_part *p) {
  const mlp_shape *s = p->shape;
  const uint32_t *w = s->widths;
  const int64_t rows = s->rows, r0 = p->r0, nr = p->nr;
  const int layers = s->layers;
  const size_t block = (size_t)nr * (size_t)s->max_hidden;
  const float *dz = p->dy + r0 * w[layers];
  for (int i = layers - 1; i >= 0 && !p->failed; i--) {
    const int fan_in = (int)w[i], fan_out = (int)w[i + 1];
    const float *weight = (const float *)(p->base + s->params[2 * i]);
    const float *in = (i == 0 ? p->x : p->ws + s->z_at[i - 1] + rows * fan_in) + r0 * fan_in; /* a_{i−1} */
    if (p->grads) {
      float *d_weight = p->grads + s->grad_at[i];
      if (nr > 0)
        sgemm_with(p->engine, p->threads, 1, 0, fan_in, fan_out, (int)nr, in, dz, 0.0f, d_weight, &p->failed);
      else
        memset(d_weight, 0, (size_t)fan_in * fan_out * sizeof(float));
      /* The hidden layers' bias gradients are summed while their dz is formed, below. */
      if (i == layers - 1) column_sums(dz, nr, fan_out, d_weight + (size_t)fan_in * fan_out);
    }
    if (i > 0) {
      float *da = p->scratch + (i & 1) * block; /* never the block dz is in */
      if (nr > 0) sgemm_with(p->engine, p->threads, 0, 1, (int)nr, fan_in, fan_out, dz, weight, 0.0f, da, &p->failed);
      float *d_bias = p->grads ? p->grads + s->grad_at[i - 1] + (size_t)w[i - 1] * fan_in : NULL;
      silu_grad_rows(da, p->ws + s->z_at[i - 1] + r0 * fan_in, nr, fan_in, d_bias);
      dz = da;
    } else if (p->dx && nr > 0) {
      sgemm_with(p->engine, p->threads, 0, 1, (int)nr, fan_in, fan_out, dz, weight, 0.0f, p->dx + r0 * fan_in,
                 &p->failed);
    }
  }
}

#define MLP_MAX_PARTS 64
#define MLP_MIN_ROWS_PER_PART 128

/*
 * How many blocks of rows run side by side (see the comment above mlp_shape): with OpenBLAS only, and only
 * a threaded build of it (pthreads or OpenMP), which serves concurrent calls from several threads safely.
 */
static int mlp_part_count(int engine, int64_t rows) {
  int parts = 1;
#ifdef TRIBUTARY_HAVE_OPENBLAS
  if (engine != ENGINE_PORTABLE && openblas_get_parallel() != 0) {
    parts = portable_threads < MLP_MAX_PARTS ? portable_threads : MLP_MAX_PARTS;
    while (parts > 1 && rows / parts < MLP_MIN_ROWS_PER_PART) parts--;
  }
#else
  (void)engine;
  (void)rows;
#endif
  return parts;
}

/* Splits the rows among `count` parts (multiples of 8 rows, the last one shorter); returns how many got rows. */
static int mlp_split(mlp_part *parts, int count, const mlp_part *common) {
  const int64_t rows = common->shape->rows;
  const int64_t per = ((rows + count - 1) / count + 7) / 8 * 8;
  int used = 0;
  for (int t = 0; t < count; t++) {
    const int64_t r0 = t * per;
    if (t > 0 && r0 >= rows) break;
    parts[t] = *common;
    parts[t].r0 = r0;
    parts[t].nr = r0 + per < rows ? per : rows - r0;
    if (parts[t].nr < 0) parts[t].nr = 0;
    parts[t].threads = count > 1 ? 1 : portable_threads;
    used++;
  }
  return used;
}

static void *mlp_forward_thread(void *part) {
  mlp_forward_part((mlp_part *)part);
  return NULL;
}

static void *mlp_backward_thread(void *part) {
  mlp_backward_part((mlp_part *)part);
  return NULL;
}

/* Runs parts 1… on new threads and part 0 here (a part whose thread fails to start runs here afterwards);
 * OpenBLAS runs single-threaded meanwhile, so that each part's products stay on its own core. */
static int mlp_run(mlp_part *parts, int count, void *(*entry)(void *)) {
  if (count == 1) {
    entry(&parts[0]);
    return parts[0].failed;
  }
#ifdef TRIBUTARY_HAVE_OPENBLAS
  openblas_set_num_threads(1);
#endif
  pthread_t handles[MLP_MAX_PARTS];
  int started[MLP_MAX_PARTS] = {0};
  for (int t = 1; t < count; t++) started[t] = pthread_create(&handles[t], NULL, entry, &parts[t]) == 0;
  entry(&parts[0]);
  int failed = parts[0].failed;
  for (int t = 1; t < count; t++) {
    if (started[t])
      pthread_join(handles[t], NULL);
    else
      entry(&parts[t]);
    failed |= parts[t].failed;
  }
#ifdef TRIBUTARY_HAVE_OPENBLAS
  openblas_set_num_threads(portable_threads);
#endif
  return failed;
}

/*
 * mlpForward(heap, engine, rows, widths, params, xOffset, yOffset, workspaceOffset): y and the workspace
 * as described above; offsets in bytes.
 */
static napi_value mlp_forward(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 8) THROW("mlpForward expects 8 arguments");
  void *heap_data;
  size_t heap_bytes;
  if (napi_get_arraybuffer_info(env, argv[0], &heap_data, &heap_bytes) != napi_ok)
    THROW("mlpForward: heap must be an ArrayBuffer");
  int64_t engine, x_offset, y_offset, ws_offset;
  if (!get_engine(env, argv[1], &engine)) THROW("mlpForward: unknown engine, or OpenBLAS absent from this build");
  mlp_shape shape;
  const char *problem = mlp_read_shape(env, argv + 2, heap_bytes, &shape);
  if (problem) return throw_mlp_error(env, "mlpForward", problem);
  if (!get_int(env, argv[5], &x_offset) || !get_int(env, argv[6], &y_offset) || !get_int(env, argv[7], &ws_offset))
    THROW("mlpForward: integer offsets expected");
  const int64_t rows = shape.rows;
  if (!float_range_ok(x_offset, rows * shape.widths[0], heap_bytes) ||
      !float_range_ok(y_offset, rows * shape.widths[shape.layers], heap_bytes) ||
      !float_range_ok(ws_offset, (int64_t)shape.workspace_floats, heap_bytes))
    THROW("mlpForward: x, y or the workspace lies outside the heap (or is misaligned)");

  char *base = (char *)heap_data;
  const mlp_part common = {.shape = &shape,
                           .engine = (int)engine,
                           .base = base,
                           .x = (const float *)(base + x_offset),
                           .ws = (float *)(base + ws_offset),
                           .y = (float *)(base + y_offset)};
  mlp_part parts[MLP_MAX_PARTS];
  const int count = mlp_split(parts, mlp_part_count((int)engine, rows), &common);
  if (mlp_run(parts, count, mlp_forward_thread))
    THROW("mlpForward: out of memory for the portable SGEMM's packing buffers");
  return NULL;
}

/* Scratch for the backward pass (per Node environment: a worker thread has its own), grown when a call
 * needs more, freed with the environment. */
typedef struct {
  float *data;
  size_t floats;
} mlp_scratch;

static void free_scratch(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  mlp_scratch *scratch = (mlp_scratch *)data;
  free(scratch->data);
  free(scratch);
}

static float *get_scratch(napi_env env, size_t floats) {
  mlp_scratch *scratch = NULL;
  if (napi_get_instance_data(env, (void **)&scratch) != napi_ok) return NULL;
  if (!scratch) {
    scratch = (mlp_scratch *)calloc(1, sizeof *scratch);
    if (!scratch) return NULL;
    if (napi_set_instance_data(env, scratch, free_scratch, NULL) != napi_ok) {
      free(scratch);
      return NULL;
    }
  }
  if (scratch->floats < floats) {
    void *grown = NULL;
    if (posix_memalign(&grown, 64, floats * sizeof(float)) != 0) return NULL;
    free(scratch->data);
    scratch->data = (float *)grown;
    scratch->floats = floats;
  }
  return scratch->data;
}

/* Floats rounded up to a multiple of 16 (64 bytes), so that every block carved from scratch stays aligned. */
static size_t aligned_floats(size_t floats) { return (floats + 15) / 16 * 16; }

/*
 * mlpBackward(heap, engine, rows, widths, params, xOffset, workspaceOffset, dyOffset, dxOffset, grads):
 * backpropagates dy (rows×w_L) through the MLP of the matching mlpForward call:
 *   dz_{L−1} = dy,   da_{i−1} = dz_i·W_iᵀ,   dz_{i−1} = da_{i−1}·SiLU'(z_{i−1}),
 *   SiLU'(z) = σ(z)·(1 + z·(1 − σ(z))),   dW_i = a_{i−1}ᵀ·dz_i,   db_i = Σ_rows dz_i.
 * dxOffset ≥ 0 asks for the input gradient dx = dz_0·W_0ᵀ there (on the heap); grads, a Float32Array or
 * null, asks for every weight and bias gradient, packed as [dW_0, db_0, dW_1, db_1, …] (row-major). Only
 * what is asked for is computed beyond the chain of dz itself.
 */
static napi_value mlp_backward(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 10) THROW("mlpBackward expects 10 arguments");
  void *heap_data;
  size_t heap_bytes;
  if (napi_get_arraybuffer_info(env, argv[0], &heap_data, &heap_bytes) != napi_ok)
    THROW("mlpBackward: heap must be an ArrayBuffer");
  int64_t engine, x_offset, ws_offset, dy_offset, dx_offset;
  if (!get_engine(env, argv[1], &engine)) THROW("mlpBackward: unknown engine, or OpenBLAS absent from this build");
  mlp_shape shape;
  const char *problem = mlp_read_shape(env, argv + 2, heap_bytes, &shape);
  if (problem) return throw_mlp_error(env, "mlpBackward", problem);
  if (!get_int(env, argv[5], &x_offset) || !get_int(env, argv[6], &ws_offset) ||
      !get_int(env, argv[7], &dy_offset) || !get_int(env, argv[8], &dx_offset))
    THROW("mlpBackward: integer offsets expected");
  const int64_t rows = shape.rows;
  if (!float_range_ok(x_offset, rows * shape.widths[0], heap_bytes) ||
      !float_range_ok(ws_offset, (int64_t)shape.workspace_floats, heap_bytes) ||
      !float_range_ok(dy_offset, rows * shape.widths[shape.layers], heap_bytes) ||
      (dx_offset >= 0 && !float_range_ok(dx_offset, rows * shape.widths[0], heap_bytes)))
    THROW("mlpBackward: x, the workspace, dy or dx lies outside the heap (or is misaligned)");

  float *grads = NULL;
  napi_valuetype grads_type;
  CHECK(napi_typeof(env, argv[9], &grads_type));
  if (grads_type != napi_null && grads_type != napi_undefined) {
    napi_typedarray_type array_type;
    size_t length;
    void *raw;
    if (napi_get_typedarray_info(env, argv[9], &array_type, &length, &raw, NULL, NULL) != napi_ok ||
        array_type != napi_float32_array)
      THROW("mlpBackward: grads must be a Float32Array or null");
    if (length != shape.param_floats)
      THROW("mlpBackward: grads must hold every weight and bias (Σ w_i·w_{i+1} + w_{i+1})");
    grads = (float *)raw;
  }

  char *base = (char *)heap_data;
  const mlp_part common = {.shape = &shape,
                           .engine = (int)engine,
                           .base = base,
                           .x = (const float *)(base + x_offset),
                           .ws = (float *)(base + ws_offset),
                           .dy = (const float *)(base + dy_offset),
                           .dx = dx_offset >= 0 ? (float *)(base + dx_offset) : NULL,
                           .grads = grads};
  mlp_part parts[MLP_MAX_PARTS];
  const int count = mlp_split(parts, mlp_part_count((int)engine, rows), &common);
  /* Scratch: each part's two dz blocks, then the partial gradients of parts 1…. */
  size_t per_part = 0;
  for (int t = 0; t < count; t++) {
    const size_t need = aligned_floats(2 * (size_t)parts[t].nr * (size_t)shape.max_hidden);
    if (need > per_part) per_part = need;
  }
  const size_t partial = grads ? aligned_floats(shape.param_floats) : 0;
  float *scratch = get_scratch(env, count * per_part + (count - 1) * partial + 16);
  if (!scratch) THROW("mlpBackward: out of memory for scratch");
  for (int t = 0; t < count; t++) {
    parts[t].scratch = scratch + t * per_part;
    if (grads && t > 0) parts[t].grads = scratch + count * per_part + (t - 1) * partial;
  }
  if (mlp_run(parts, count, mlp_backward_thread))
    THROW("mlpBackward: out of memory for the portable SGEMM's packing buffers");
  for (int t = 1; t < count && grads; t++)
    for (uint64_t j = 0; j < shape.param_floats; j++) grads[j] += parts[t].grads[j];
  return NULL;
}

/*
 * Normal samples exactly as tfjs's randomNormal draws them (tfjs-core ops/rand_util.ts MPRandGauss): the
 * Alea generator of seedrandom (J. Baagøe) feeding Marsaglia's polar method, in double precision, each
 * value rounded to float32 — the same values for the same seed, several times faster than the JavaScript
 * loop (which at a batch of 1024×64 took a third of a flow-matching step). The arithmetic is written in
 * JavaScript's evaluation order and must not be contracted into fused multiply-adds, or the values would
 * differ in their last bits; the logarithm is fdlibm's __ieee754_log (Sun Microsystems, 1993; freely
 * redistributable with its notice), which V8 uses for Math.log.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

/* fdlibm e_log.c (Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved. Developed at SunSoft,
 * a Sun Microsystems, Inc. business. Permission to use, copy, modify, and distribute this software is
 * freely granted, provided that this notice is preserved.) — for finite x > 0, the only inputs here. */
static double fdlibm_log(double x) {
  static const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10,
                      two54 = 1.80143985094819840000e+16, Lg1 = 6.666666666666735130e-01,
                      Lg2 = 3.999999999940941908e-01, Lg3 = 2.857142874366239149e-01,
                      Lg4 = 2.222219843214978396e-01, Lg5 = 1.818357216161805012e-01,
                      Lg6 = 1.531383769920937332e-01, Lg7 = 1.479819860511658591e-01;
  uint64_t word;
  memcpy(&word, &x, sizeof word);
  int32_t hx = (int32_t)(word >> 32), k = 0;
  if (hx < 0x00100000) { /* subnormal: scale up */
    k -= 54;
    x *= two54;
    memcpy(&word, &x, sizeof word);
    hx = (int32_t)(word >> 32);
  }
  k += (hx >> 20) - 1023;
  hx &= 0x000fffff;
  int32_t i = (hx + 0x95f64) & 0x100000;
  word = (word & 0xffffffffu) | ((uint64_t)(uint32_t)(hx | (i ^ 0x3ff00000)) << 32); /* normalize x or x/2 */
  memcpy(&x, &word, sizeof x);
  k += (i >> 20);
  const double f = x - 1.0;
  double dk, R;
  if ((0x000fffff & (2 + hx)) < 3) { /* -2^-20 <= f < 2^-20 */
    if (f == 0.0) {
      if (k == 0) return 0.0;
      dk = (double)k;
      return dk * ln2_hi + dk * ln2_lo;
    }
    R = f * f * (0.5 - 0.33333333333333333 * f);
    if (k == 0) return f - R;
    dk = (double)k;
    return dk * ln2_hi - ((R - dk * ln2_lo) - f);
  }
  const double s = f / (2.0 + f);
  dk = (double)k;
  const double z = s * s;
  i = hx - 0x6147a;
  const double w = z * z;
  const int32_t j = 0x6b851 - hx;
  const double t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
  const double t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
  i |= j;
  R = t2 + t1;
  if (i > 0) {
    const double hfsq = 0.5 * f * f;
    if (k == 0) return f - (hfsq - s * (hfsq + R));
    return dk * ln2_hi - ((hfsq - (s * (hfsq + R) + dk * ln2_lo)) - f);
  }
  if (k == 0) return f - s * (f - R);
  return dk * ln2_hi - ((s * (f - R) - dk * ln2_lo) - f);
}

typedef struct {
  double c, s0, s1, s2;
} alea_state;

/* seedrandom's Alea next(): t = 2091639·s0 + c·2⁻³², c = ⌊t⌋, result t − c (t < 2²¹, so ⌊t⌋ is t | 0). */
static inline double alea_next(alea_state *a) {
  const double t = 2091639 * a->s0 + a->c * 2.3283064365386963e-10;
  a->s0 = a->s1;
  a->s1 = a->s2;
  a->c = (double)(int32_t)t;
  return a->s2 = t - a->c;
}

static void polar_normal(alea_state *a, double mean, double std_dev, float *out, size_t count) {
  for (size_t i = 0; i < count; i += 2) {
    double v1, v2, s;
    do {
      v1 = 2 * alea_next(a) - 1;
      v2 = 2 * alea_next(a) - 1;
      s = v1 * v1 + v2 * v2;
    } while (s >= 1 || s == 0);
    const double mul = sqrt(-2.0 * fdlibm_log(s) / s);
    out[i] = (float)(mean + std_dev * v1 * mul);
    if (i + 1 < count) out[i + 1] = (float)(mean + std_dev * v2 * mul);
  }
}

#if defined(__clang__)
#pragma STDC FP_CONTRACT ON
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

/*
 * randomNormal(heap, outOffset, count, mean, stdDev, state): count float32 samples at outOffset, from the
 * Alea state [c, s0, s1, s2] (a Float64Array, seeded by the caller as seedrandom's alea(seed) would be).
 */
static napi_value random_normal(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 6) THROW("randomNormal expects 6 arguments");
  void *heap_data;
  size_t heap_bytes;
  if (napi_get_arraybuffer_info(env, argv[0], &heap_data, &heap_bytes) != napi_ok)
    THROW("randomNormal: heap must be an ArrayBuffer");
  int64_t out_offset, count;
  double mean, std_dev;
  if (!get_int(env, argv[1], &out_offset) || !get_int(env, argv[2], &count) || count < 0)
    THROW("randomNormal: integer offset and a non-negative count expected");
  if (napi_get_value_double(env, argv[3], &mean) != napi_ok ||
      napi_get_value_double(env, argv[4], &std_dev) != napi_ok)
    THROW("randomNormal: mean and stdDev must be numbers");
  napi_typedarray_type type;
  size_t length;
  void *raw;
  if (napi_get_typedarray_info(env, argv[5], &type, &length, &raw, NULL, NULL) != napi_ok ||
      type != napi_float64_array || length != 4)
    THROW("randomNormal: state must be a Float64Array [c, s0, s1, s2]");
  if (!float_range_ok(out_offset, count, heap_bytes)) THROW("randomNormal: the output lies outside the heap");
  alea_state state;
  memcpy(&state, raw, sizeof state);
  polar_normal(&state, mean, std_dev, (float *)((char *)heap_data + out_offset), (size_t)count);
  memcpy(raw, &state, sizeof state);
  return NULL;
}

/* setThreads(n): threads for OpenBLAS (openblas_set_num_threads) and for the portable SGEMM. */
static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t threads;
  if (argc != 1 || !get_int(env, argv[0], &threads) || threads < 1 || threads > 1024)
    THROW("setThreads expects an integer in [1, 1024]");
  portable_threads = (int)threads;
#ifdef TRIBUTARY_HAVE_OPENBLAS
  openblas_set_num_threads((int)threads);
#endif
  return NULL;
}

static napi_status set_named(napi_env env, napi_value object, const char *name, napi_value value) {
  return value ? napi_set_named_property(env, object, name, value) : napi_generic_failure;
}

/* info(): what this build computes with, for logs and for `tributary info`. */
static napi_value build_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, number, flag;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_get_boolean(env, have_openblas(), &flag));
  CHECK(set_named(env, result, "openblas", flag));
#ifdef TRIBUTARY_HAVE_OPENBLAS
  CHECK(set_named(env, result, "openblasConfig", make_string(env, openblas_get_config())));
  CHECK(set_named(env, result, "openblasCore", make_string(env, openblas_get_corename())));
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &number));
  CHECK(set_named(env, result, "openblasThreads", number));
#endif
  CHECK(set_named(env, result, "portableSimd", make_string(env, portable_sgemm_simd())));
  CHECK(napi_create_int32(env, portable_sgemm_mr(), &number));
  CHECK(set_named(env, result, "portableMr", number));
  CHECK(napi_create_int32(env, portable_sgemm_nr(), &number));
  CHECK(set_named(env, result, "portableNr", number));
  CHECK(napi_create_int32(env, portable_threads, &number));
  CHECK(set_named(env, result, "portableThreads", number));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor properties[] = {
      {"matmul", NULL, matmul, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sum", NULL, sum, NULL, NULL, NULL, napi_enumerable, NULL},
      {"concat", NULL, concat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sigmoid", NULL, sigmoid, NULL, NULL, NULL, napi_enumerable, NULL},
      {"silu", NULL, silu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"siluGrad", NULL, silu_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adam", NULL, adam, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mlpForward", NULL, mlp_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mlpBackward", NULL, mlp_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"randomNormal", NULL, random_normal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"info", NULL, build_info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
