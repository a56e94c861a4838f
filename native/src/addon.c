/*
 * tributary_blas: matrix products for the TensorFlow.js WASM backend, computed natively on the WASM heap.
 *
 * The JavaScript side (server/engines/nativeKernels.ts) passes the backend's WebAssembly memory (an
 * ArrayBuffer) and byte offsets of each tensor inside it; this addon reads A and B and writes C in place,
 * so no tensor is copied. The product is one SGEMM per batch entry — OpenBLAS's cblas_sgemm when the build
 * found it (TRIBUTARY_HAVE_OPENBLAS), else the portable blocked SGEMM of portable_sgemm.c — followed by the
 * epilogue of tfjs's _FusedMatMul: a bias broadcast along rows, then an activation.
 *
 * Plain Node-API (node_api.h, ABI-stable C), so the binary does not depend on V8's C++ API.
 */
#define NAPI_VERSION 8
#include <math.h>
#include <node_api.h>
#include <stdint.h>
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

static void sgemm(int engine, int transA, int transB, int m, int n, int k, const float *A, const float *B, float beta,
                  float *C, int *failed) {
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
  if (portable_sgemm(transA, transB, m, n, k, A, lda, B, ldb, beta, C, n, portable_threads) != 0) *failed = 1;
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
      {"sigmoid", NULL, sigmoid, NULL, NULL, NULL, napi_enumerable, NULL},
      {"silu", NULL, silu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"siluGrad", NULL, silu_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adam", NULL, adam, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"info", NULL, build_info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
