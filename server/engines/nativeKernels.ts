/**
 * Native matrix products under the TensorFlow.js WASM backend (issue 8; DESIGN.md "Stack → Tensor backend").
 *
 * The wasm backend's own `BatchMatMul` and `_FusedMatMul` (XNNPACK inside WebAssembly, one thread) reach
 * 1–3 GFLOP/s; a Node-API addon (native/, built at install) runs the same products with OpenBLAS or its
 * own blocked SGEMM at about 100 GFLOP/s per core. The addon works zero-copy on the backend's heap: each
 * tensor of the wasm backend lives in the WebAssembly memory at a known byte offset, so the kernels here
 * pass that memory (an ArrayBuffer) and the offsets of A, B, the bias and an output allocated with the
 * backend's own `makeOutput`, and the addon writes the product in place. Engines do not know which path
 * runs: the kernels are registered under the same names with `tf.registerKernel`, and anything the
 * addon does not cover (other dtypes, PReLU, unusual bias shapes, shape errors) goes to the original kernel.
 * Kernels of our own (fused SiLU, Adam, a whole SiLU MLP each way, normal samples) are registered with them
 * and run by tensor.ts / optimizers.ts helpers only while the native path is active.
 *
 * Paths, best first: `openblas` (the build found a system OpenBLAS), `portable` (the addon's SGEMM,
 * compiled for the host's SIMD), else none — plain WASM, when the addon is missing or switched off.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

/** `auto`: the best path the addon offers; `openblas` / `portable`: that path or an error; `off`: plain WASM. */
export type NativeKernelsSetting = 'auto' | 'openblas' | 'portable' | 'off';
export type NativeMatMulPath = 'openblas' | 'portable';

export interface NativeKernelsOptions {
  setting: NativeKernelsSetting;
  /** Threads for one product (OpenBLAS's pool, or the portable SGEMM's row split). */
  threads: number;
}

export interface NativeKernelsStatus {
  /** The active path, or null when the wasm backend's own kernels run. */
  path: NativeMatMulPath | null;
  /** Human-readable: library, CPU core type, threads — or why the native path is not active. */
  detail: string;
}

/** What the addon reports about its build (native/src/addon.c `info`). */
export interface TributaryBlasInfo {
  openblas: boolean;
  openblasConfig?: string;
  openblasCore?: string;
  openblasThreads?: number;
  portableSimd: string;
  portableMr: number;
  portableNr: number;
  portableThreads: number;
}

interface TributaryBlasAddon {
  matmul(
    heap: ArrayBuffer,
    engine: number,
    batch: number,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
    aOffset: number,
    bOffset: number,
    cOffset: number,
    aIndex: Uint32Array | null,
    bIndex: Uint32Array | null,
    biasOffset: number,
    biasLength: number,
    activation: number,
    alpha: number,
  ): void;
  sum(
    heap: ArrayBuffer,
    xOffset: number,
    outOffset: number,
    outer: number,
    reduce: number,
    inner: number,
  ): void;
  sigmoid(heap: ArrayBuffer, xOffset: number, outOffset: number, count: number): void;
  silu(heap: ArrayBuffer, xOffset: number, outOffset: number, count: number): void;
  siluGrad(heap: ArrayBuffer, dyOffset: number, xOffset: number, outOffset: number, count: number): void;
  adam(
    heap: ArrayBuffer,
    param: number,
    grad: number,
    m: number,
    v: number,
    outParam: number,
    outM: number,
    outV: number,
    count: number,
    learningRate: number,
    beta1: number,
    beta2: number,
    epsilon: number,
    correction1: number,
    correction2: number,
  ): void;
  mlpForward(
    heap: ArrayBuffer,
    engine: number,
    rows: number,
    widths: Uint32Array,
    params: Uint32Array,
    xOffset: number,
    yOffset: number,
    workspaceOffset: number,
  ): void;
  mlpBackward(
    heap: ArrayBuffer,
    engine: number,
    rows: number,
    widths: Uint32Array,
    params: Uint32Array,
    xOffset: number,
    workspaceOffset: number,
    dyOffset: number,
    dxOffset: number,
    grads: Float32Array | null,
  ): void;
  concat(
    heap: ArrayBuffer,
    outOffset: number,
    batch: number,
    inOffsets: Uint32Array,
    rowBytes: Uint32Array,
  ): void;
  randomNormal(
    heap: ArrayBuffer,
    outOffset: number,
    count: number,
    mean: number,
    stdDev: number,
    state: Float64Array,
  ): void;
  setThreads(threads: number): void;
  info(): TributaryBlasInfo;
}

/** The addon's engine codes (native/src/addon.c `enum engine`). */
const engineCode: Record<NativeMatMulPath, number> = { openblas: 1, portable: 2 };

/** tfjs's fusable activations that the addon applies itself (native/src/addon.c `enum activation`). */
const activationCode: Record<string, number> = {
  linear: 0,
  relu: 1,
  relu6: 2,
  leakyrelu: 3,
  sigmoid: 4,
  elu: 5,
};

const ADDON_FILE = path.join('native', 'build', 'Release', 'tributary_blas.node');

let addonLoad: { addon: TributaryBlasAddon; file: string } | { error: string } | undefined;

/**
 * Loads the addon once. It sits in native/build under the project root: found from this file's location
 * (engines/ is two levels below the root) or, when this code runs from a bundle, from the working directory.
 * `process.dlopen` rather than `require` keeps bundlers from trying to resolve a binary.
 */
export function loadTributaryBlas(): { addon: TributaryBlasAddon; file: string } | { error: string } {
  if (addonLoad) return addonLoad;
  const candidates = [path.join(process.cwd(), ADDON_FILE)];
  try {
    candidates.unshift(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', ADDON_FILE));
  } catch {
    // import.meta.url is not a file: URL inside some bundles; the working directory remains.
  }
  const file = candidates.find((candidate) => fs.existsSync(candidate));
  if (!file) {
    addonLoad = { error: `native addon not built (no ${ADDON_FILE}; run \`npm run build:native\`)` };
    return addonLoad;
  }
  try {
    const module = { exports: {} as unknown };
    process.dlopen(module, file);
    addonLoad = { addon: module.exports as TributaryBlasAddon, file };
  } catch (error) {
    addonLoad = { error: `native addon failed to load (${errorMessage(error)})` };
  }
  return addonLoad;
}

/** The addon's build report, or undefined when it is not built or does not load. */
export function tributaryBlasInfo(): TributaryBlasInfo | undefined {
  const load = loadTributaryBlas();
  return 'addon' in load ? load.addon.info() : undefined;
}

// ------------------------------------------------------------------------------------------ registration

type ReplacedKernel = 'BatchMatMul' | '_FusedMatMul' | 'Sum' | 'Sigmoid' | 'Identity' | 'Cast' | 'Concat';
type OriginalKernels = Record<ReplacedKernel, tf.KernelConfig>;

let originals: OriginalKernels | undefined;
let active: { path: NativeMatMulPath; addon: TributaryBlasAddon } | undefined;

/** The native path now computing the wasm backend's matrix products, or null. */
export function activeNativeMatMul(): NativeMatMulPath | null {
  return active?.path ?? null;
}

/**
 * Puts the native kernels in place of the wasm backend's `BatchMatMul` and `_FusedMatMul` (or restores the
 * originals for `off`). Idempotent; call again to switch paths or thread counts. The wasm backend module
 * must have been imported (its kernels registered). `auto` without the addon quietly keeps plain WASM
 * and says why; an explicit `openblas` / `portable` that cannot be had throws. `load` is the addon (tests
 * pass a failed load to exercise the fallback).
 */
export function installNativeKernels(
  options: NativeKernelsOptions,
  load: ReturnType<typeof loadTributaryBlas> = loadTributaryBlas(),
): NativeKernelsStatus {
  if (!Number.isInteger(options.threads) || options.threads < 1) {
    throw new Error(`native kernels: threads must be a positive integer, got ${options.threads}`);
  }
  if (options.setting === 'off') {
    restoreOriginalKernels();
    return { path: null, detail: 'matmul: WASM (native kernels off)' };
  }
  if ('error' in load) {
    restoreOriginalKernels();
    if (options.setting !== 'auto') throw new Error(`native kernels '${options.setting}': ${load.error}`);
    return { path: null, detail: `matmul: WASM (${load.error})` };
  }
  const { addon } = load;
  const built = addon.info();
  const path: NativeMatMulPath =
    options.setting === 'auto' ? (built.openblas ? 'openblas' : 'portable') : options.setting;
  if (path === 'openblas' && !built.openblas) {
    restoreOriginalKernels();
    throw new Error(
      "native kernels 'openblas': the addon was built without OpenBLAS (install libopenblas-dev, then npm run build:native)",
    );
  }
  addon.setThreads(options.threads);
  registerNativeKernels();
  active = { path, addon };
  return { path, detail: describePath(path, addon.info(), options.threads) };
}

function describePath(path: NativeMatMulPath, built: TributaryBlasInfo, threads: number): string {
  const threadText = `${threads} thread${threads === 1 ? '' : 's'}`;
  if (path === 'openblas') {
    const version = /OpenBLAS\s+[\d.]+/.exec(built.openblasConfig ?? '')?.[0] ?? 'OpenBLAS';
    return `matmul: ${version} (core ${built.openblasCore ?? '?'}, ${threadText}) on the WASM heap via Node-API`;
  }
  return `matmul: portable blocked SGEMM (${built.portableSimd}, ${threadText}) on the WASM heap via Node-API`;
}

/**
 * The replacements. Besides the products: Sum (the WASM kernel transposes before reducing, which made
 * bias gradients cost as much as the products), Sigmoid (scalar in the WASM build: SiLU calls it on every
 * hidden activation), and Identity / same-dtype Cast, which the WASM backend implements as copies
 * although tfjs tensors are immutable — and tfjs clones every tensor it saves for backprop through them.
 * And Concat, which the WASM backend copies row by row in JavaScript (a flow's [x, t] input: 0.2 ms a step).
 */
function replacementKernels(): Record<ReplacedKernel, tf.KernelFunc> {
  return {
    BatchMatMul: nativeBatchMatMul,
    _FusedMatMul: nativeFusedMatMul,
    Sum: nativeSum,
    Sigmoid: nativeSigmoid,
    Concat: nativeConcat,
    Identity: sharedIdentity,
    Cast: sharedCast,
  };
}

/**
 * Kernels of our own (no tfjs op has them): SiLU and its gradient fused into one pass each, run by
 * tensor.ts's `silu` while the native path is active (registered with it, removed with it).
 */
export const nativeSiluKernel = 'TributarySilu';
export const nativeSiluGradKernel = 'TributarySiluGrad';
/** One Adam step over a variable: inputs param, grad, m, v; outputs [param', m', v'] (optimizers.ts). */
export const nativeAdamKernel = 'TributaryAdam';

export interface NativeAdamAttrs {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** 1 − β1^t and 1 − β2^t, the bias corrections at step t. */
  correction1: number;
  correction2: number;
}

/**
 * A whole SiLU MLP, y = L_{n−1}(SiLU(… SiLU(L_0(x)))) with L_i(h) = h·W_i + b_i, in one kernel each way
 * (native/src/addon.c `mlpForward`, `mlpBackward`); run by tensor.ts's `mlp` through `nativeMlp` below.
 * Inputs (an array): x, the workspace (see `nativeMlp`), then W_0, b_0, W_1, b_1, …; output y.
 */
export const nativeMlpKernel = 'TributaryMlp';
/** The input gradient of `TributaryMlp`: inputs (an array) dy, x, workspace, W_0, b_0, …; output dx. */
export const nativeMlpGradKernel = 'TributaryMlpGrad';

/**
 * Normal samples, the same values as tf.randomNormal's for the same seed (native/src/addon.c
 * `randomNormal`); no inputs, attributes `NativeRandomNormalAttrs`; run by tensor.ts's `randomNormal`.
 */
export const nativeRandomNormalKernel = 'TributaryRandomNormal';

export interface NativeRandomNormalAttrs {
  shape: number[];
  mean: number;
  stdDev: number;
  /** The Alea generator's state [c, s0, s1, s2], from `aleaState`. */
  state: Float64Array;
}

/**
 * The initial state [c, s0, s1, s2] of seedrandom's `alea(seed)` (seedrandom 3, lib/alea.js: Johannes
 * Baagøe's Alea seeded through his Mash hash), which tfjs's randomNormal draws from.
 */
export function aleaState(seed: string): Float64Array {
  let n = 0xefc8249d;
  const mash = (data: string) => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000; // 2^32
    }
    return (n >>> 0) * 2.3283064365386963e-10; // 2^-32
  };
  const state = [1, mash(' '), mash(' '), mash(' ')];
  for (let i = 1; i <= 3; i++) {
    state[i] -= mash(seed);
    if (state[i] < 0) state[i] += 1;
  }
  return Float64Array.from(state);
}

/**
 * How often the fused MLP ran each way since the process started (tests check that a vector-Jacobian
 * product in x never computes the weight gradients, and training never the input gradient).
 */
export const nativeMlpCalls = { forward: 0, inputGradient: 0, weightGradients: 0 };

/** Whether our own fused kernels (SiLU, Adam, MLP) are registered: the native path is active on wasm. */
export function nativeFusedKernelsActive(): boolean {
  return active !== undefined;
}

function ownKernels(): tf.KernelConfig[] {
  return [
    { kernelName: nativeSiluKernel, backendName: 'wasm', kernelFunc: nativeSilu },
    { kernelName: nativeSiluGradKernel, backendName: 'wasm', kernelFunc: nativeSiluGrad },
    { kernelName: nativeAdamKernel, backendName: 'wasm', kernelFunc: nativeAdam },
    { kernelName: nativeMlpKernel, backendName: 'wasm', kernelFunc: nativeMlpForward },
    { kernelName: nativeMlpGradKernel, backendName: 'wasm', kernelFunc: nativeMlpInputGradient },
    { kernelName: nativeRandomNormalKernel, backendName: 'wasm', kernelFunc: nativeRandomNormal },
  ];
}

function registerNativeKernels(): void {
  if (originals) return;
  for (const own of ownKernels()) tf.registerKernel(own);
  tf.registerGradient(mlpGradient);
  const replacements = Object.entries(replacementKernels()) as [ReplacedKernel, tf.KernelFunc][];
  const found = replacements.map(([name]) => [name, tf.getKernel(name, 'wasm')] as const);
  const missing = found.filter(([, config]) => !config).map(([name]) => name);
  if (missing.length > 0) {
    throw new Error(`native kernels: the wasm backend is not loaded (no wasm kernel ${missing.join(', ')})`);
  }
  originals = Object.fromEntries(found) as OriginalKernels;
  for (const [name, kernelFunc] of replacements) {
    const original = originals[name];
    // Same name, backend and setup as the original (its setup prepares the fallback), another function.
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...original, kernelFunc });
  }
}

function restoreOriginalKernels(): void {
  active = undefined;
  if (!originals) return;
  for (const own of ownKernels()) tf.unregisterKernel(own.kernelName, own.backendName);
  tf.unregisterGradient(nativeMlpKernel);
  for (const original of Object.values(originals)) {
    tf.unregisterKernel(original.kernelName, original.backendName);
    tf.registerKernel(original);
  }
  originals = undefined;
}

// ------------------------------------------------------------------------------------------------ kernels

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use (public members of that class). */
interface WasmBackendHeap {
  wasm: { HEAPU8: Uint8Array };
  getMemoryOffset(dataId: tf.DataId): number;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  incRef(dataId: tf.DataId): void;
}

interface ProductPlan {
  batch: number;
  m: number;
  n: number;
  k: number;
  /** Which matrix of A (of B) each output batch entry uses; null for the identity. */
  aIndex: Uint32Array | null;
  bIndex: Uint32Array | null;
  outShape: number[];
}

/**
 * Shapes of op(A)·op(B) with NumPy broadcasting over the leading (batch) dimensions, as tfjs's matMul
 * documents; undefined for anything the original kernel should handle (and report), such as mismatched
 * inner dimensions.
 */
export function planMatMul(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): ProductPlan | undefined {
  const aRank = aShape.length;
  const bRank = bShape.length;
  if (aRank < 2 || bRank < 2) return undefined;
  const m = transposeA ? aShape[aRank - 1] : aShape[aRank - 2];
  const k = transposeA ? aShape[aRank - 2] : aShape[aRank - 1];
  const kB = transposeB ? bShape[bRank - 1] : bShape[bRank - 2];
  const n = transposeB ? bShape[bRank - 2] : bShape[bRank - 1];
  if (k !== kB) return undefined;
  const aOuter = aShape.slice(0, -2);
  const bOuter = bShape.slice(0, -2);
  const rank = Math.max(aOuter.length, bOuter.length);
  const outer: number[] = [];
  for (let axis = 0; axis < rank; axis++) {
    const da = aOuter[axis - (rank - aOuter.length)] ?? 1;
    const db = bOuter[axis - (rank - bOuter.length)] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return undefined;
    outer.push(da === 1 ? db : da);
  }
  const batch = outer.reduce((p, d) => p * d, 1);
  return {
    batch,
    m,
    n,
    k,
    aIndex: broadcastIndex(aOuter, outer, batch),
    bIndex: broadcastIndex(bOuter, outer, batch),
    outShape: [...outer, m, n],
  };
}

/** For each flat index of `outer`, the flat index into `own` (right-aligned, size-1 axes broadcast). */
function broadcastIndex(own: readonly number[], outer: readonly number[], batch: number): Uint32Array | null {
  const ownSize = own.reduce((p, d) => p * d, 1);
  if (ownSize === batch) return null; // same extents: the identity
  const index = new Uint32Array(batch);
  if (ownSize === 1) return index; // one matrix for every batch entry
  const offset = outer.length - own.length;
  for (let flat = 0; flat < batch; flat++) {
    let rest = flat;
    let ownFlat = 0;
    let ownStride = 1;
    for (let axis = outer.length - 1; axis >= 0; axis--) {
      const coordinate = rest % outer[axis];
      rest = Math.floor(rest / outer[axis]);
      const ownAxis = axis - offset;
      if (ownAxis < 0) continue;
      if (own[ownAxis] !== 1) ownFlat += coordinate * ownStride;
      ownStride *= own[ownAxis];
    }
    index[flat] = ownFlat;
  }
  return index;
}

interface BiasSpec {
  offset: number;
  length: number;
}

/** Runs the planned product on the addon; the output is allocated here, on the wasm heap. */
function runNative(
  backend: WasmBackendHeap,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  plan: ProductPlan,
  transposeA: boolean,
  transposeB: boolean,
  bias: BiasSpec | undefined,
  activation: number,
  alpha: number,
): tf.TensorInfo {
  const native = active;
  if (!native) throw new Error('native kernels: called while inactive');
  const out = backend.makeOutput(plan.outShape, 'float32');
  if (plan.batch === 0 || plan.m === 0 || plan.n === 0) return out;
  // Read the heap after makeOutput: an allocation can grow the WebAssembly memory, which replaces its buffer.
  native.addon.matmul(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    engineCode[native.path],
    plan.batch,
    plan.m,
    plan.n,
    plan.k,
    transposeA,
    transposeB,
    backend.getMemoryOffset(a.dataId),
    backend.getMemoryOffset(b.dataId),
    backend.getMemoryOffset(out.dataId),
    plan.aIndex,
    plan.bIndex,
    bias ? bias.offset : -1,
    bias ? bias.length : 0,
    activation,
    alpha,
  );
  return out;
}

interface MatMulAttrs {
  transposeA?: boolean;
  transposeB?: boolean;
}

const nativeBatchMatMul: tf.KernelFunc = (args) => {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA = false, transposeB = false } = (args.attrs ?? {}) as MatMulAttrs;
  const plan =
    a.dtype === 'float32' && b.dtype === 'float32'
      ? planMatMul(a.shape, b.shape, transposeA, transposeB)
      : undefined;
  if (!plan || !originals) return fallback('BatchMatMul', args);
  return runNative(args.backend as WasmBackendHeap, a, b, plan, transposeA, transposeB, undefined, 0, 0);
};

const nativeFusedMatMul: tf.KernelFunc = (args) => {
  const { a, b, bias, preluActivationWeights } = args.inputs as {
    a: tf.TensorInfo;
    b: tf.TensorInfo;
    bias?: tf.TensorInfo;
    preluActivationWeights?: tf.TensorInfo;
  };
  const attrs = (args.attrs ?? {}) as MatMulAttrs & { activation?: string; leakyreluAlpha?: number };
  const { transposeA = false, transposeB = false } = attrs;
  const activation = activationCode[attrs.activation ?? 'linear'];
  const plan =
    a.dtype === 'float32' && b.dtype === 'float32' && activation !== undefined && !preluActivationWeights
      ? planMatMul(a.shape, b.shape, transposeA, transposeB)
      : undefined;
  const backend = args.backend as WasmBackendHeap;
  let biasSpec: BiasSpec | undefined;
  if (plan && bias) {
    // A scalar, or one value per output column broadcast over rows (shape [n], [1, n], …); other bias
    // shapes keep the original kernel.
    const size = bias.shape.reduce((p, d) => p * d, 1);
    const perColumn = size === plan.n && bias.shape[bias.shape.length - 1] === plan.n;
    if (bias.dtype === 'float32' && (size === 1 || perColumn)) {
      biasSpec = { offset: backend.getMemoryOffset(bias.dataId), length: size };
    }
  }
  if (!plan || !originals || (bias && !biasSpec)) return fallback('_FusedMatMul', args);
  return runNative(
    backend,
    a,
    b,
    plan,
    transposeA,
    transposeB,
    biasSpec,
    activation,
    attrs.leakyreluAlpha ?? 0.2,
  );
};

/**
 * tfjs's Sum (reduce_sum over `axis`, optionally keeping reduced axes as size 1) for float32 when the
 * reduced axes are one contiguous block — leading (a bias gradient: rows of dY summed), trailing (per-row
 * sums) or in the middle. The WASM kernel first transposes every non-trailing reduction, which made the
 * bias gradients of a training step cost almost as much as its matrix products.
 */
const nativeSum: tf.KernelFunc = (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { axis, keepDims = false } = (args.attrs ?? {}) as { axis?: number | number[]; keepDims?: boolean };
  const rank = x.shape.length;
  const axes = [...new Set(tf.util.parseAxisParam(axis ?? x.shape.map((_, i) => i), x.shape))].sort(
    (p, q) => p - q,
  );
  const contiguous = axes.length > 0 && axes[axes.length - 1] - axes[0] === axes.length - 1;
  const native = active;
  if (x.dtype !== 'float32' || !contiguous || !native) return fallback('Sum', args);
  const first = axes[0];
  const last = axes[axes.length - 1];
  const extent = (from: number, to: number) => x.shape.slice(from, to).reduce((p, d) => p * d, 1);
  const outer = extent(0, first);
  const reduce = extent(first, last + 1);
  const inner = extent(last + 1, rank);
  const outShape = x.shape.flatMap((d, i) => (i < first || i > last ? [d] : keepDims ? [1] : []));
  const backend = args.backend as WasmBackendHeap;
  const out = backend.makeOutput(outShape, 'float32');
  if (outer * inner === 0) return out;
  native.addon.sum(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    backend.getMemoryOffset(x.dataId),
    backend.getMemoryOffset(out.dataId),
    outer,
    reduce,
    inner,
  );
  return out;
};

/** tfjs's Sigmoid, 1/(1 + e^−x), for float32 (native/src/addon.c `sigmoid`). */
const nativeSigmoid: tf.KernelFunc = (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const native = active;
  if (x.dtype !== 'float32' || !native) return fallback('Sigmoid', args);
  const backend = args.backend as WasmBackendHeap;
  const out = backend.makeOutput(x.shape, 'float32');
  const count = x.shape.reduce((p, d) => p * d, 1);
  if (count === 0) return out;
  native.addon.sigmoid(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    backend.getMemoryOffset(x.dataId),
    backend.getMemoryOffset(out.dataId),
    count,
  );
  return out;
};

/**
 * tfjs's Concat for 4-byte dtypes (float32, int32): each input viewed as [batch, inner_i] (axes before
 * `axis` × the rest), their rows laid side by side (native/src/addon.c `concat`). Same shape checks and
 * empty-input handling as the WASM kernel; other dtypes keep it.
 */
const nativeConcat: tf.KernelFunc = (args) => {
  const inputs = args.inputs as unknown as tf.TensorInfo[];
  const native = active;
  const dtype = inputs[0]?.dtype;
  if (!native || (dtype !== 'float32' && dtype !== 'int32') || inputs.some((t) => t.dtype !== dtype)) {
    return fallback('Concat', args);
  }
  const shapes = inputs.map((t) => t.shape);
  const axis = tf.util.parseAxisParam((args.attrs as { axis: number | number[] }).axis, shapes[0])[0];
  tf.backend_util.assertParamsConsistent(shapes, axis);
  const outShape = tf.backend_util.computeOutShape(shapes, axis);
  const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);
  const nonEmpty = inputs.filter((t) => size(t.shape) > 0);
  if (nonEmpty.length === 1) return sharedIdentity({ ...args, inputs: { x: nonEmpty[0] } });
  const backend = args.backend as WasmBackendHeap;
  const out = backend.makeOutput(outShape, dtype as 'float32');
  if (size(outShape) === 0) return out;
  const batch = size(nonEmpty[0].shape.slice(0, axis));
  native.addon.concat(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    backend.getMemoryOffset(out.dataId),
    batch,
    Uint32Array.from(nonEmpty, (t) => backend.getMemoryOffset(t.dataId)),
    Uint32Array.from(nonEmpty, (t) => 4 * size(t.shape.slice(axis))),
  );
  return out;
};

/** x·σ(x) in one pass (native/src/addon.c `silu`); only registered, hence only run, on the native path. */
const nativeSilu: tf.KernelFunc = (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const native = requireActive(nativeSiluKernel, x);
  const backend = args.backend as WasmBackendHeap;
  const out = backend.makeOutput(x.shape, 'float32');
  const count = x.shape.reduce((p, d) => p * d, 1);
  if (count === 0) return out;
  native.addon.silu(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    backend.getMemoryOffset(x.dataId),
    backend.getMemoryOffset(out.dataId),
    count,
  );
  return out;
};

/** dy·σ(x)·(1 + x·(1 − σ(x))) in one pass (native/src/addon.c `siluGrad`). */
const nativeSiluGrad: tf.KernelFunc = (args) => {
  const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  const native = requireActive(nativeSiluGradKernel, x);
  if (dy.dtype !== 'float32' || dy.shape.join() !== x.shape.join()) {
    throw new Error(`${nativeSiluGradKernel}: dy must be float32 of x's shape [${x.shape.join(', ')}]`);
  }
  const backend = args.backend as WasmBackendHeap;
  const out = backend.makeOutput(x.shape, 'float32');
  const count = x.shape.reduce((p, d) => p * d, 1);
  if (count === 0) return out;
  native.addon.siluGrad(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    backend.getMemoryOffset(dy.dataId),
    backend.getMemoryOffset(x.dataId),
    backend.getMemoryOffset(out.dataId),
    count,
  );
  return out;
};

/** One Adam step in one pass (native/src/addon.c `adam`); the outputs are fresh tensors [param', m', v']. */
const nativeAdam: tf.KernelFunc = (args) => {
  const { param, grad, m, v } = args.inputs as Record<'param' | 'grad' | 'm' | 'v', tf.TensorInfo>;
  const attrs = args.attrs as unknown as NativeAdamAttrs;
  const native = requireActive(nativeAdamKernel, param);
  for (const input of [grad, m, v]) {
    if (input.dtype !== 'float32' || input.shape.join() !== param.shape.join()) {
      throw new Error(
        `${nativeAdamKernel}: every input must be float32 of shape [${param.shape.join(', ')}]`,
      );
    }
  }
  const backend = args.backend as WasmBackendHeap;
  const outputs = [param, m, v].map(() => backend.makeOutput(param.shape, 'float32'));
  const count = param.shape.reduce((p, d) => p * d, 1);
  if (count === 0) return outputs;
  const offset = (t: tf.TensorInfo) => backend.getMemoryOffset(t.dataId);
  native.addon.adam(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    offset(param),
    offset(grad),
    offset(m),
    offset(v),
    offset(outputs[0]),
    offset(outputs[1]),
    offset(outputs[2]),
    count,
    attrs.learningRate,
    attrs.beta1,
    attrs.beta2,
    attrs.epsilon,
    attrs.correction1,
    attrs.correction2,
  );
  return outputs;
};

/** tf.randomNormal's values for float32, drawn natively (see `nativeRandomNormalKernel`). */
const nativeRandomNormal: tf.KernelFunc = (args) => {
  const { shape, mean, stdDev, state } = args.attrs as unknown as NativeRandomNormalAttrs;
  const native = active;
  if (!native) throw new Error(`${nativeRandomNormalKernel}: the native kernels are not active`);
  const backend = args.backend as WasmBackendHeap;
  const out = backend.makeOutput(shape, 'float32');
  const count = shape.reduce((p, d) => p * d, 1);
  if (count === 0) return out;
  native.addon.randomNormal(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    backend.getMemoryOffset(out.dataId),
    count,
    mean,
    stdDev,
    state,
  );
  return out;
};

// ---------------------------------------------------------------------------------------- fused MLP

interface MlpLayout {
  rows: number;
  /** [w_0, …, w_L]: x is rows×w_0, W_i is w_i×w_{i+1}, y is rows×w_L. */
  widths: Uint32Array;
  /** Floats in the workspace: z and SiLU(z) of every hidden layer, 2·rows·Σ hidden widths. */
  workspaceSize: number;
}

/** The layout of an MLP from x and its [W_0, b_0, W_1, b_1, …], or why the fused kernel cannot run it. */
function mlpLayout(x: tf.TensorInfo, params: readonly tf.TensorInfo[]): MlpLayout | string {
  if (x.shape.length !== 2 || x.dtype !== 'float32') return 'x must be a float32 matrix';
  if (params.length === 0 || params.length % 2 !== 0) return 'expected weights and biases in pairs';
  const widths = [x.shape[1]];
  for (let i = 0; i < params.length; i += 2) {
    const [weight, bias] = [params[i], params[i + 1]];
    const fanIn = widths[widths.length - 1];
    if (
      weight.dtype !== 'float32' ||
      bias.dtype !== 'float32' ||
      weight.shape.length !== 2 ||
      weight.shape[0] !== fanIn ||
      bias.shape.length !== 1 ||
      bias.shape[0] !== weight.shape[1]
    ) {
      return `layer ${i / 2}: expected float32 W [${fanIn}, n] and b [n]`;
    }
    widths.push(weight.shape[1]);
  }
  if (widths.some((w) => w < 1)) return 'every width must be positive';
  const rows = x.shape[0];
  const hidden = widths.slice(1, -1).reduce((sum, w) => sum + w, 0);
  return { rows, widths: Uint32Array.from(widths), workspaceSize: 2 * rows * hidden };
}

/** Whether `nativeMlp` can run this MLP (float32 throughout, consistent shapes). */
export function nativeMlpSupports(x: tf.Tensor, params: readonly tf.Tensor[]): boolean {
  return active !== undefined && typeof mlpLayout(x, params) !== 'string';
}

/**
 * The fused MLP on x with parameters [W_0, b_0, W_1, b_1, …] (SiLU between layers, the last layer
 * linear). The workspace that backprop needs is an input of the kernel, written by it: a fresh tensor
 * for this call only, so that the kernel has a single output y — tfjs would otherwise hand the gradient
 * function a zero-filled dy for every further output, which costs as much as the workspace is large.
 * When the tape records the call it keeps (shares) the workspace; otherwise it is freed on return.
 */
export function nativeMlp(x: tf.Tensor2D, params: readonly tf.Tensor[]): tf.Tensor2D {
  const layout = mlpLayout(x, params);
  if (typeof layout === 'string') throw new Error(`${nativeMlpKernel}: ${layout}`);
  const backend = tf.backend() as unknown as WasmBackendHeap;
  const workspace = tf
    .engine()
    .makeTensorFromTensorInfo(backend.makeOutput([layout.workspaceSize], 'float32'), tf.backend());
  try {
    return tf
      .engine()
      .runKernel<tf.Tensor2D>(nativeMlpKernel, [x, workspace, ...params] as unknown as tf.NamedTensorMap);
  } finally {
    workspace.dispose();
  }
}

/** Splits a kernel's array inputs into x, the workspace and the parameters, with the checked layout. */
function mlpInputs(kernel: string, inputs: readonly tf.TensorInfo[]) {
  const [x, workspace, ...params] = inputs;
  const layout = mlpLayout(x, params);
  if (typeof layout === 'string') throw new Error(`${kernel}: ${layout}`);
  const workspaceSize = workspace.shape.reduce((p, d) => p * d, 1);
  if (workspace.dtype !== 'float32' || workspaceSize !== layout.workspaceSize) {
    throw new Error(`${kernel}: the workspace must hold ${layout.workspaceSize} float32 values`);
  }
  return { x, workspace, params, layout };
}

function paramOffsets(backend: WasmBackendHeap, params: readonly tf.TensorInfo[]): Uint32Array {
  return Uint32Array.from(params, (p) => backend.getMemoryOffset(p.dataId));
}

/** y and the workspace (written in place: a private tensor made by `nativeMlp` for this call). */
const nativeMlpForward: tf.KernelFunc = (args) => {
  const { x, workspace, params, layout } = mlpInputs(
    nativeMlpKernel,
    args.inputs as unknown as tf.TensorInfo[],
  );
  const native = requireActive(nativeMlpKernel, x);
  const backend = args.backend as WasmBackendHeap;
  const y = backend.makeOutput([layout.rows, layout.widths[layout.widths.length - 1]], 'float32');
  nativeMlpCalls.forward += 1;
  native.addon.mlpForward(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    engineCode[native.path],
    layout.rows,
    layout.widths,
    paramOffsets(backend, params),
    backend.getMemoryOffset(x.dataId),
    backend.getMemoryOffset(y.dataId),
    backend.getMemoryOffset(workspace.dataId),
  );
  return y;
};

/** dx = the input gradient alone (no weight gradient is formed). */
const nativeMlpInputGradient: tf.KernelFunc = (args) => {
  const [dy, ...rest] = args.inputs as unknown as tf.TensorInfo[];
  const { x, workspace, params, layout } = mlpInputs(nativeMlpGradKernel, rest);
  const native = requireActive(nativeMlpGradKernel, x);
  const outWidth = layout.widths[layout.widths.length - 1];
  if (dy.dtype !== 'float32' || dy.shape.join() !== [layout.rows, outWidth].join()) {
    throw new Error(`${nativeMlpGradKernel}: dy must be float32 of shape [${layout.rows}, ${outWidth}]`);
  }
  const backend = args.backend as WasmBackendHeap;
  const dx = backend.makeOutput([...x.shape], 'float32');
  nativeMlpCalls.inputGradient += 1;
  runMlpBackward(
    native,
    backend,
    layout,
    { x, workspace, params, dy },
    backend.getMemoryOffset(dx.dataId),
    null,
  );
  return dx;
};

/**
 * The addon's mlpBackward on the kernel's inputs: dx written at `dxOffset` (−1: not formed) and/or every
 * weight and bias gradient packed into `packed` (null: not formed).
 */
function runMlpBackward(
  native: NonNullable<typeof active>,
  backend: WasmBackendHeap,
  layout: MlpLayout,
  tensors: {
    x: tf.TensorInfo;
    workspace: tf.TensorInfo;
    params: readonly tf.TensorInfo[];
    dy: tf.TensorInfo;
  },
  dxOffset: number,
  packed: Float32Array | null,
): void {
  native.addon.mlpBackward(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    engineCode[native.path],
    layout.rows,
    layout.widths,
    paramOffsets(backend, tensors.params),
    backend.getMemoryOffset(tensors.x.dataId),
    backend.getMemoryOffset(tensors.workspace.dataId),
    backend.getMemoryOffset(tensors.dy.dataId),
    dxOffset,
    packed,
  );
}

/**
 * Every weight and bias gradient in one native call, packed [dW_0, db_0, dW_1, db_1, …] in a JavaScript
 * array outside the tensor engine, so that the lazily evaluated per-input gradients below can share it
 * without tensors that outlive their scope. The array is reused from call to call (a fresh one each step
 * cost page faults and zero-filling); `owner` says which gradient function's values it holds now.
 */
let packedGradients: { array: Float32Array; owner: object } | undefined;

function mlpWeightGradients(dy: tf.Tensor, saved: readonly tf.Tensor[], owner: object): Float32Array {
  const [x, workspace, ...params] = saved;
  const layout = mlpLayout(x, params);
  if (typeof layout === 'string') throw new Error(`${nativeMlpKernel} gradient: ${layout}`);
  const native = requireActive(nativeMlpKernel, x);
  const backend = tf.backend() as unknown as WasmBackendHeap;
  const size = params.reduce((sum, p) => sum + p.size, 0);
  if (packedGradients?.array.length !== size) packedGradients = { array: new Float32Array(size), owner };
  packedGradients.owner = owner;
  nativeMlpCalls.weightGradients += 1;
  runMlpBackward(native, backend, layout, { x, workspace, params, dy }, -1, packedGradients.array);
  return packedGradients.array;
}

/**
 * The gradient of `TributaryMlp`, one lazy function per input. tfjs's tape calls only the functions of
 * inputs that lead to what is being differentiated (tape.ts getFilteredNodesXToY prunes the rest), so
 * training (gradients in the weights) makes one native call for all weights — shared by their functions —
 * and never forms dx, while a vector-Jacobian product in x (divergences, Adjoint Matching) forms dx alone.
 */
const mlpGradient: tf.GradConfig = {
  kernelName: nativeMlpKernel,
  saveAllInputs: true,
  gradFunc: (dy, saved) => {
    const gradient = dy as tf.Tensor;
    const [, workspace, ...params] = saved;
    // The tape calls a node's functions one after another; should another MLP's gradient have taken the
    // shared array in between (it does not in tfjs 4), the weight gradients are formed again.
    const owner = {};
    const weightGradients = () =>
      packedGradients?.owner === owner ? packedGradients.array : mlpWeightGradients(gradient, saved, owner);
    const functions: Record<string, () => tf.Tensor> = {
      0: () =>
        tf
          .engine()
          .runKernel<tf.Tensor>(nativeMlpGradKernel, [gradient, ...saved] as unknown as tf.NamedTensorMap),
      // The workspace is made inside nativeMlp from nothing: never on a path being differentiated.
      1: () => tf.zerosLike(workspace),
    };
    let offset = 0;
    params.forEach((param, i) => {
      const start = offset;
      offset += param.size;
      functions[i + 2] = () =>
        tf.tensor(weightGradients().subarray(start, start + param.size), param.shape, 'float32');
    });
    return functions;
  },
};

function requireActive(kernel: string, x: tf.TensorInfo) {
  const native = active;
  if (!native) throw new Error(`${kernel}: the native kernels are not active`);
  if (x.dtype !== 'float32') throw new Error(`${kernel}: float32 expected, got ${x.dtype}`);
  return native;
}

/**
 * Identity without a copy: the output shares the input's data and bumps its reference count, as tfjs's
 * cpu and webgl backends do (tensors are never written in place; the data is freed with its last user).
 */
const sharedIdentity: tf.KernelFunc = (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  if (x.dtype === 'string') return fallback('Identity', args);
  (args.backend as WasmBackendHeap).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
};

/** A Cast to the dtype the tensor already has is an Identity; real conversions keep the WASM kernel. */
const sharedCast: tf.KernelFunc = (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { dtype } = (args.attrs ?? {}) as { dtype?: tf.DataType };
  return dtype === x.dtype ? sharedIdentity(args) : fallback('Cast', args);
};

function fallback(kernel: ReplacedKernel, args: Parameters<tf.KernelFunc>[0]) {
  const original = originals?.[kernel];
  if (!original) throw new Error('native kernels: no original wasm kernel to fall back to');
  return original.kernelFunc(args);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] : String(error);
}
