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

type ReplacedKernel = 'BatchMatMul' | '_FusedMatMul' | 'Sum' | 'Sigmoid' | 'Identity' | 'Cast';
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
 */
function replacementKernels(): Record<ReplacedKernel, tf.KernelFunc> {
  return {
    BatchMatMul: nativeBatchMatMul,
    _FusedMatMul: nativeFusedMatMul,
    Sum: nativeSum,
    Sigmoid: nativeSigmoid,
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

/** Whether our own fused kernels (SiLU, Adam) are registered: the native path is active on wasm. */
export function nativeFusedKernelsActive(): boolean {
  return active !== undefined;
}

function ownKernels(): tf.KernelConfig[] {
  return [
    { kernelName: nativeSiluKernel, backendName: 'wasm', kernelFunc: nativeSilu },
    { kernelName: nativeSiluGradKernel, backendName: 'wasm', kernelFunc: nativeSiluGrad },
    { kernelName: nativeAdamKernel, backendName: 'wasm', kernelFunc: nativeAdam },
  ];
}

function registerNativeKernels(): void {
  if (originals) return;
  for (const own of ownKernels()) tf.registerKernel(own);
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
