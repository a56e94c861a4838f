/**
 * `tributary bench matmul`: single-precision matrix-product throughput (GFLOP/s = 2·M·K·N per product) for
 * 1024³ and for the shapes a flow-matching step of the DESIGN reference model runs (batch 1024, width 256,
 * d = 2 or 256; forward products and a weight gradient Aᵀ·B) — our native path, the addon's portable SGEMM,
 * the WASM backend's own kernel, and PyTorch measured in the same run.
 */
import {
  currentNativeKernelsOptions,
  initTensorBackend,
  setNativeKernels,
  tf,
  type TensorBackendInfo,
} from '../server/engines/tensor';
import type { NativeKernelsSetting } from '../server/engines/nativeKernels';
import { tributaryBlasInfo } from '../server/engines/nativeKernels';
import { runPython, torchAvailable } from './torchPeer';

export interface MatMulShape {
  /** op(A) is M×K, op(B) is K×N. */
  m: number;
  k: number;
  n: number;
  transposeA: boolean;
  label: string;
}

export const benchShapes: MatMulShape[] = [
  { m: 1024, k: 1024, n: 1024, transposeA: false, label: '1024×1024×1024' },
  { m: 1024, k: 257, n: 256, transposeA: false, label: '1024×257×256 (first layer, d = 256)' },
  { m: 1024, k: 256, n: 256, transposeA: false, label: '1024×256×256 (hidden layer)' },
  { m: 1024, k: 256, n: 2, transposeA: false, label: '1024×256×2 (output layer, d = 2)' },
  { m: 256, k: 1024, n: 256, transposeA: true, label: '256×1024×256 Aᵀ·B (weight gradient)' },
];

export interface MatMulBenchOptions {
  /** Seconds of timing per shape and path (at least 3 products are timed regardless). */
  seconds: number;
  threads: number;
  /** Leave out the WASM kernel on 1024³ (about a second per product there). */
  quick?: boolean;
  /** Measure PyTorch too (when importable). */
  torch?: boolean;
}

/** Median-free but steady: products until `seconds` have passed (≥ 3), after one warm-up product. */
function timeProducts(shape: MatMulShape, seconds: number): number {
  const [a, b] = tf.tidy(() => [
    tf.randomUniform(shape.transposeA ? [shape.k, shape.m] : [shape.m, shape.k], -1, 1, 'float32', 1),
    tf.randomUniform([shape.k, shape.n], -1, 1, 'float32', 2),
  ]);
  try {
    tf.matMul(a, b, shape.transposeA).dispose();
    let products = 0;
    const started = performance.now();
    while (products < 3 || performance.now() - started < seconds * 1000) {
      tf.matMul(a, b, shape.transposeA).dispose();
      products++;
    }
    const elapsed = (performance.now() - started) / 1000;
    return round((2 * shape.m * shape.k * shape.n * products) / elapsed / 1e9, 2);
  } finally {
    tf.dispose([a, b]);
  }
}

const TORCH_MATMUL = `
import json, sys, time, torch
shapes, seconds, threads = json.loads(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
out = []
for s in shapes:
    a = torch.rand(s["k"], s["m"]) if s["transposeA"] else torch.rand(s["m"], s["k"])
    b = torch.rand(s["k"], s["n"])
    op = (lambda: a.t() @ b) if s["transposeA"] else (lambda: a @ b)
    op()
    n, t0 = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < seconds:
        op(); n += 1
    out.append(round(2 * s["m"] * s["k"] * s["n"] * n / (time.perf_counter() - t0) / 1e9, 2))
print(json.dumps({"version": torch.__version__, "threads": torch.get_num_threads(), "gflops": out}))
`;

export async function runMatMulBench(options: MatMulBenchOptions) {
  await initTensorBackend();
  const configured = await setNativeKernels({ threads: options.threads });
  const backend: TensorBackendInfo | undefined = configured ?? (await initTensorBackend());
  const nativePath =
    backend.kernels === 'openblas' || backend.kernels === 'portable' ? backend.kernels : null;

  const rows: Record<string, unknown>[] = benchShapes.map(({ label, m, k, n, transposeA }) => ({
    shape: label,
    m,
    k,
    n,
    transposeA,
  }));
  const configuredSetting = currentNativeKernelsOptions().setting;
  const measure = async (
    column: string,
    setting: NativeKernelsSetting,
    skip?: (s: MatMulShape) => boolean,
  ) => {
    await setNativeKernels({ setting });
    benchShapes.forEach((shape, i) => {
      rows[i][column] = skip?.(shape) ? null : timeProducts(shape, options.seconds);
    });
  };
  if (backend.name === 'wasm') {
    if (nativePath) await measure('ours', configuredSetting);
    if (nativePath === 'openblas') await measure('portable', 'portable');
    await measure('wasm', 'off', (shape) => Boolean(options.quick) && shape.m * shape.k * shape.n > 1e8);
    await setNativeKernels({ setting: configuredSetting });
    // Without the addon our path is the WASM kernel itself.
    if (!nativePath) for (const row of rows) row.ours = row.wasm;
  } else {
    await measure('ours', configuredSetting);
  }

  const torch: ReturnType<typeof torchAvailable> =
    options.torch === false ? { ok: false, reason: 'not asked for (--no-torch)' } : torchAvailable();
  let torchVersion: string | null = null;
  let torchReason: string | null = null;
  if (torch.ok) {
    // One product is one BLAS call: torch hands it to OpenBLAS, whose pool gets our thread count.
    const result = runPython(
      ['-c', TORCH_MATMUL, JSON.stringify(benchShapes), String(options.seconds), '1'],
      { torchThreads: 1, blasThreads: options.threads },
      600_000,
    );
    if (result.ok) {
      torchVersion = String(result.json.version);
      (result.json.gflops as number[]).forEach((gflops, i) => (rows[i].torch = gflops));
    } else {
      torchReason = result.reason;
    }
  } else {
    torchReason = torch.reason;
  }
  for (const row of rows) {
    row.torch ??= null;
    const ours = typeof row.ours === 'number' ? row.ours : undefined;
    row.oursOverTorch =
      ours !== undefined && typeof row.torch === 'number' ? round(ours / row.torch, 2) : null;
    row.oursOverWasm = ours !== undefined && typeof row.wasm === 'number' ? round(ours / row.wasm, 1) : null;
  }

  const blas = tributaryBlasInfo();
  return {
    bench: 'matmul',
    unit: 'GFLOP/s',
    backend: backend.name,
    kernels: backend.kernels,
    backendDetail: backend.detail,
    threads: options.threads,
    openblasCore: blas?.openblasCore ?? null,
    torch: torchVersion ? { version: torchVersion, intraOpThreads: 1, blasThreads: options.threads } : null,
    torchReason,
    shapes: rows,
  };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
