/**
 * Tensor backend selection (DESIGN.md "Stack → Tensor backend"): chosen once per process, best first —
 * `@tensorflow/tfjs-node-gpu` (CUDA), `@tensorflow/tfjs-node`, `@tensorflow/tfjs-backend-wasm`, plain `cpu`.
 *
 * Every engine imports `tf` from here so that the whole process shares one tfjs instance and one backend.
 * The native backends are optional dependencies that may be absent; their imports go through a variable
 * module name so that bundlers and vitest do not try to resolve them statically.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadTensorSettings } from '../env';
import {
  activeNativeMatMul,
  installNativeKernels,
  nativeFusedKernelsActive,
  aleaState,
  nativeMlp,
  nativeMlpSupports,
  nativeRandomNormalKernel,
  nativeSiluGradKernel,
  nativeSiluKernel,
  type NativeKernelsOptions,
  type NativeMatMulPath,
} from './nativeKernels';

export { tf };

export type TensorBackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface TensorBackendInfo {
  name: TensorBackendName;
  /**
   * What computes the matrix products: the native addon's `openblas` or `portable` SGEMM under the wasm
   * backend (nativeKernels.ts), otherwise the backend's own kernels (its name).
   */
  kernels: NativeMatMulPath | TensorBackendName;
  /** Human-readable: tfjs version, threads, CUDA, matmul library, … (the caller logs it). */
  detail: string;
}

/** Best first, as DESIGN.md orders them. */
const autoOrder: readonly TensorBackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

let selection: Promise<TensorBackendInfo> | undefined;
let selected: TensorBackendInfo | undefined;

/**
 * Selects and initialises the tensor backend. Idempotent: later calls with `'auto'` or with the name
 * already selected return the same (memoised) promise. An explicit name tries only that backend and
 * throws a clear Error when it cannot be loaded; asking for a different explicit name later switches
 * backends (benchmarks and tests compare backends in one process).
 */
export function initTensorBackend(prefer: 'auto' | TensorBackendName = 'auto'): Promise<TensorBackendInfo> {
  if (selection && !selected) {
    // A selection is under way: 'auto' shares it; an explicit request waits for it, then applies.
    if (prefer === 'auto') return selection;
    const retry = () => initTensorBackend(prefer);
    return selection.then(retry, retry);
  }
  if (selection && selected && (prefer === 'auto' || prefer === selected.name)) {
    if (currentTensorBackend()) return selection;
    // Someone called tf.setBackend directly: return to the selected backend rather than re-probing.
    return startSelection(activate(selected.name));
  }
  return startSelection(prefer === 'auto' ? selectFirstWorking(autoOrder) : activate(prefer));
}

function startSelection(attempt: Promise<TensorBackendInfo>): Promise<TensorBackendInfo> {
  const previousInfo = currentTensorBackend();
  const previousSelection = selection;
  selected = undefined;
  const memo = attempt.then((info) => {
    selected = info;
    return info;
  });
  selection = memo;
  // A failed switch must not poison later calls: keep the previous selection when its backend is still
  // the active one (a failed import leaves it untouched), otherwise start afresh on the next call.
  memo.catch(() => {
    if (selection !== memo) return;
    const stillActive = previousInfo && tf.getBackend() === tfjsBackendName(previousInfo.name);
    selected = stillActive ? previousInfo : undefined;
    selection = stillActive ? previousSelection : undefined;
  });
  return memo;
}

/** The backend chosen by `initTensorBackend`, or undefined before it resolved. */
export function currentTensorBackend(): TensorBackendInfo | undefined {
  return selected && tf.getBackend() === tfjsBackendName(selected.name) ? selected : undefined;
}

async function selectFirstWorking(order: readonly TensorBackendName[]): Promise<TensorBackendInfo> {
  const failures: string[] = [];
  for (const name of order) {
    try {
      return await activate(name);
    } catch (error) {
      failures.push(`${name}: ${errorMessage(error)}`);
    }
  }
  throw new Error(`No tensor backend could be initialised (${failures.join('; ')})`);
}

/** tfjs registers both native packages under the same backend name. */
function tfjsBackendName(name: TensorBackendName): string {
  return name === 'tensorflow-gpu' ? 'tensorflow' : name;
}

async function activate(name: TensorBackendName): Promise<TensorBackendInfo> {
  switch (name) {
    case 'tensorflow-gpu':
      await importOptional('@tensorflow/tfjs-node-gpu');
      await switchTo('tensorflow');
      return {
        name,
        kernels: name,
        detail: `tfjs ${tf.version.tfjs}, libtensorflow with CUDA (tfjs-node-gpu)`,
      };
    case 'tensorflow':
      await importOptional('@tensorflow/tfjs-node');
      await switchTo('tensorflow');
      return { name, kernels: name, detail: `tfjs ${tf.version.tfjs}, libtensorflow CPU (tfjs-node)` };
    case 'wasm':
      await loadWasmBackend();
      await switchTo('wasm');
      useTransposeFreeMatMulGradient();
      return applyNativeKernels();
    case 'cpu':
      await switchTo('cpu');
      return { name, kernels: name, detail: `tfjs ${tf.version.tfjs}, plain JavaScript, 1 thread` };
  }
}

let nativeKernelsOptions: NativeKernelsOptions | undefined;

/** TRIBUTARY_NATIVE_KERNELS and TRIBUTARY_BLAS_THREADS (server/env.ts) until `setNativeKernels` says otherwise. */
function nativeOptions(): NativeKernelsOptions {
  if (!nativeKernelsOptions) {
    const settings = loadTensorSettings();
    nativeKernelsOptions = {
      setting: settings.TRIBUTARY_NATIVE_KERNELS,
      threads: settings.TRIBUTARY_BLAS_THREADS,
    };
  }
  return nativeKernelsOptions;
}

/** The native-kernel setting and thread count in force (from the environment unless changed since). */
export function currentNativeKernelsOptions(): NativeKernelsOptions {
  return { ...nativeOptions() };
}

/**
 * Installs (or removes) the native matrix kernels on the active wasm backend and describes the result. A
 * native path that computes wrongly is removed again, like a backend that fails its self-check.
 */
function applyNativeKernels(): TensorBackendInfo {
  const base = `tfjs ${tf.version.tfjs}, WebAssembly ${describeWasmFeatures()}`;
  const status = installNativeKernels(nativeOptions());
  if (status.path) {
    try {
      verifyArithmetic('wasm');
    } catch (error) {
      installNativeKernels({ ...nativeOptions(), setting: 'off' });
      if (nativeOptions().setting !== 'auto') throw error;
      return {
        name: 'wasm',
        kernels: 'wasm',
        detail: `${base}; matmul: WASM (native ${status.path} failed its self-check)`,
      };
    }
  }
  return { name: 'wasm', kernels: status.path ?? 'wasm', detail: `${base}; ${status.detail}` };
}

/**
 * Switches the native matrix kernels (and their thread count) at run time, for benchmarks and tests that
 * compare paths in one process. Applies at once when wasm is the selected backend (and returns its new
 * description), otherwise the next time wasm is activated.
 */
export async function setNativeKernels(
  options: Partial<NativeKernelsOptions>,
): Promise<TensorBackendInfo | undefined> {
  if (selection && !selected) await selection.catch(() => undefined);
  nativeKernelsOptions = { ...nativeOptions(), ...options };
  const current = currentTensorBackend();
  if (current?.name !== 'wasm') return undefined;
  const info = applyNativeKernels();
  selected = info;
  selection = Promise.resolve(info);
  return info;
}

/**
 * Optional native packages: a variable specifier keeps bundlers from resolving them at build time. The
 * package's binding (lib/napi-v<N>/tfjs_binding.node, put there by its install script, which downloads
 * libtensorflow) is looked for first: without it the import would register hundreds of kernels before
 * failing, and the next candidate would log each one again as "already registered".
 */
async function importOptional(specifier: string): Promise<void> {
  let packageDir: string;
  try {
    packageDir = path.dirname(createRequire(import.meta.url).resolve(`${specifier}/package.json`));
  } catch {
    throw new Error(`${specifier} is not installed`);
  }
  const lib = path.join(packageDir, 'lib');
  const hasBinding =
    fs.existsSync(lib) &&
    fs
      .readdirSync(lib)
      .some((dir) => dir.startsWith('napi-v') && fs.existsSync(path.join(lib, dir, 'tfjs_binding.node')));
  if (!hasBinding) {
    throw new Error(`${specifier} has no libtensorflow binding (its install script did not run or failed)`);
  }
  try {
    await import(/* @vite-ignore */ specifier);
  } catch (error) {
    throw new Error(`${specifier} is not installed or failed to load (${errorMessage(error)})`, {
      cause: error,
    });
  }
}

let wasmPathsConfigured = false;

/**
 * In Node the wasm binaries sit next to the package's entry point (node_modules/…/dist); pointing
 * `setWasmPaths` at that directory makes loading independent of the current working directory.
 */
async function loadWasmBackend(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (wasmPathsConfigured) return;
  const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(path.dirname(entry) + path.sep);
  wasmPathsConfigured = true;
}

let matMulGradientReplaced = false;

/**
 * Replaces the gradient of 2-D matMul with one that transposes explicitly and then multiplies plainly.
 * Why: the wasm backend's matMul with a transpose flag has no XNNPACK path and runs about 10× slower than
 * a plain product, and tfjs's own gradient (dA = dY·Bᵀ, dB = Aᵀ·dY) uses exactly those flags, so backprop
 * (training, likelihood divergences) was dominated by it. Same mathematics; batched (rank-3) and already
 * transposed products keep the original gradient. The per-input gradients stay lazy, so a gradient with
 * respect to inputs only (the likelihood's divergence) never computes the weight gradient. Installed once
 * when wasm is first selected, it stays process-wide, which is harmless on other backends (same values).
 */
function useTransposeFreeMatMulGradient(): void {
  if (matMulGradientReplaced) return;
  const original = tf.getGradient('BatchMatMul');
  tf.registerGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved;
      const { transposeA, transposeB } = attrs as { transposeA?: boolean; transposeB?: boolean };
      // Native kernels (nativeKernels.ts) read transposed operands at no cost: the explicit copies would
      // only add work there.
      const nativeProducts = activeNativeMatMul() !== null && tf.getBackend() === 'wasm';
      if (a.rank !== 2 || b.rank !== 2 || transposeA || transposeB || nativeProducts)
        return original.gradFunc(dy, saved, attrs);
      const dy2 = dy as tf.Tensor2D;
      return {
        a: () => tf.matMul(dy2, tf.transpose(b as tf.Tensor2D)),
        b: () => tf.matMul(tf.transpose(a as tf.Tensor2D), dy2),
      };
    },
  });
  matMulGradientReplaced = true;
}

function describeWasmFeatures(): string {
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  const threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
  return `(${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'multi-threaded' : '1 thread'})`;
}

async function switchTo(backendName: string): Promise<void> {
  const ok = await tf.setBackend(backendName);
  await tf.ready();
  if (!ok || tf.getBackend() !== backendName) {
    throw new Error(`tf.setBackend('${backendName}') failed`);
  }
  verifyArithmetic(backendName);
}

/**
 * x·W + b, a dense layer's affine map. On the native path one fused product with the bias added in its
 * output; elsewhere a plain product and an add, because tfjs's gradient of the fused op multiplies by
 * transposed operands, which the plain WASM kernel runs about 10× slower (see
 * useTransposeFreeMatMulGradient).
 */
export function affine(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  if (tf.getBackend() === 'wasm' && nativeFusedKernelsActive()) {
    return tf.fused.matMul({ a: x, b: weight, bias }) as tf.Tensor2D;
  }
  return tf.add(tf.matMul(x, weight), bias);
}

/** A dense layer's parameters: h ↦ h·weight + bias. */
export interface DenseParameters {
  weight: tf.Tensor2D;
  bias: tf.Tensor1D;
}

let fusedMlpEnabled = true;

/**
 * Turns the fused MLP kernel of the native path on or off (default on). For benchmarks and tests that
 * compare it with the per-layer native kernels in one process; the results agree up to rounding.
 */
export function setFusedMlp(enabled: boolean): void {
  fusedMlpEnabled = enabled;
}

/**
 * A multilayer perceptron: h ↦ h·W_i + b_i for each layer in order, the activation between layers, the
 * last layer linear. With SiLU on the native path (wasm with the addon) the whole network is one fused
 * kernel forward and one backward (nativeKernels.ts `TributaryMlp`), and backprop forms only what is
 * differentiated: the weight gradients in training, the input gradient in vector-Jacobian products.
 * Elsewhere (other activations, backends or dtypes) `affine` and the activation layer by layer.
 */
export function mlp(
  x: tf.Tensor2D,
  layers: readonly DenseParameters[],
  activation: 'silu' | ((h: tf.Tensor2D) => tf.Tensor2D),
): tf.Tensor2D {
  const params = layers.flatMap((layer) => [layer.weight, layer.bias]);
  if (
    activation === 'silu' &&
    fusedMlpEnabled &&
    tf.getBackend() === 'wasm' &&
    nativeFusedKernelsActive() &&
    nativeMlpSupports(x, params)
  ) {
    return nativeMlp(x, params);
  }
  const activate = activation === 'silu' ? (h: tf.Tensor2D) => silu(h) : activation;
  return tf.tidy(() => {
    let h = x;
    layers.forEach((layer, i) => {
      h = affine(h, layer.weight, layer.bias);
      if (i < layers.length - 1) h = activate(h);
    });
    return h;
  });
}

/**
 * tf.randomNormal, value for value (same seed, same numbers, on every backend), but on the native path
 * drawn by the addon: tfjs draws each number in a JavaScript loop, which at a flow-matching batch of
 * 1024×64 took a third of the training step. A missing or zero seed draws a random one, as tfjs does.
 */
export function randomNormal<R extends tf.Rank>(
  shape: tf.ShapeMap[R],
  mean = 0,
  stdDev = 1,
  dtype: 'float32' | 'int32' = 'float32',
  seed?: number,
): tf.Tensor<R> {
  const dimensions = shape as number[];
  if (
    dtype === 'float32' &&
    tf.getBackend() === 'wasm' &&
    nativeFusedKernelsActive() &&
    dimensions.every((d) => Number.isInteger(d) && d >= 0)
  ) {
    const seedValue = seed ? seed : Math.random();
    return tf.engine().runKernel<tf.Tensor<R>>(
      nativeRandomNormalKernel,
      {},
      {
        shape: [...dimensions],
        mean,
        stdDev,
        state: aleaState(seedValue.toString()),
      },
    );
  }
  return tf.randomNormal<R>(shape, mean, stdDev, dtype, seed);
}

/**
 * SiLU, x·σ(x) (Elfwing et al. 2018), the flows' default activation, with its gradient written out:
 * d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x))). On the native path both directions are one fused kernel each;
 * elsewhere the same formulas in tfjs ops (fewer than autodiff of x·σ(x) records). Differentiable once:
 * the engines take first-order gradients only (training, vector-Jacobian products, divergences).
 */
export function silu<T extends tf.Tensor>(x: T): T {
  return siluWithGradient(x) as T;
}

// customGrad's declared signature is variadic (inputs then the save function); this one takes one input.
const siluWithGradient = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  if (x.dtype === 'float32' && tf.getBackend() === 'wasm' && nativeFusedKernelsActive()) {
    save([x]);
    return {
      value: tf.engine().runKernel<tf.Tensor>(nativeSiluKernel, { x }),
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) =>
        tf.engine().runKernel<tf.Tensor>(nativeSiluGradKernel, { dy, x: saved }),
    };
  }
  const sigma = tf.sigmoid(x);
  save([x, sigma]);
  return {
    value: tf.mul(x, sigma),
    gradFunc: (dy: tf.Tensor, [savedX, savedSigma]: tf.Tensor[]) =>
      tf.mul(dy, tf.mul(savedSigma, tf.add(1, tf.mul(savedX, tf.sub(1, savedSigma))))),
  };
}) as Parameters<typeof tf.customGrad>[0]);

/**
 * A backend that initialises but computes wrongly (or lacks the kernels the flows use) must not be
 * selected: check a matrix product and a gradient through the ops an MLP velocity field needs.
 */
function verifyArithmetic(backendName: string): void {
  const [product, gradient] = tf.tidy(() => {
    const a = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const b = tf.tensor2d([[5], [6]]);
    const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, tf.sigmoid(x))))(tf.tensor1d([0]));
    return [tf.matMul(a, b).dataSync(), grad.dataSync()];
  });
  // [1 2; 3 4]·[5; 6] = [17; 39]; d/dx x·σ(x) at 0 = σ(0) = 0.5.
  const ok = product[0] === 17 && product[1] === 39 && Math.abs(gradient[0] - 0.5) < 1e-6;
  if (!ok) throw new Error(`backend '${backendName}' failed its arithmetic self-check`);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] : String(error);
}
