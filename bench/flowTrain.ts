/**
 * `tributary bench flow-train`: training steps per second of the DESIGN.md reference flow-matching model in
 * our engine and in PyTorch (shared/peers/torch_flow_bench.py), measured one after the other in the same
 * run, with their ratio.
 *
 * The model is the peer's exactly: input [x_t, t] with raw t (MlpVelocityField with no sinusoidal time
 * features), Linear(d+1, 256) → SiLU → (Linear(256, 256) → SiLU) × 2 → Linear(256, d), batch 1024, Adam at
 * lr 1e-3, x0 ~ N(0, I), x1 ~ N(1, 0.25·I), loss ‖v(x_t, t) − (x1 − x0)‖² — ours sums it over coordinates
 * where the peer averages, a constant factor d that Adam's scale invariance makes irrelevant to speed.
 */
import { MlpVelocityField, trainFlowMatching, type MlpVelocityFieldConfig } from '../server/engines/flows';
import { tributaryBlasInfo } from '../server/engines/nativeKernels';
import type { Rng } from '../server/engines/random';
import {
  currentNativeKernelsOptions,
  initTensorBackend,
  randomNormal,
  setNativeKernels,
  tf,
} from '../server/engines/tensor';
import { defaultTorchFlowPeer, runPython } from './torchPeer';

export const referenceModel = {
  hidden: 256,
  layers: 3,
  activation: 'silu',
  timeFrequencies: 0,
  batchSize: 1024,
  learningRate: 1e-3,
} as const;

export interface FlowTrainBenchOptions {
  dimensions: number[];
  /** Seconds of timed training per dimension and engine (after 10 warm-up steps, as the peer does). */
  seconds: number;
  threads: number;
  /** Also time the plain WASM kernels (native kernels off) in the same run. */
  alsoWasm: boolean;
  /** The PyTorch peer script; null skips PyTorch. */
  torchPeer: string | null;
}

interface EngineFigures {
  stepsPerSecond: number;
  steps: number;
  seconds: number;
  finalLoss: number;
}

/** Steps per second of our trainFlowMatching on the reference model (fresh weights from seed 0). */
async function timeOurs(dimension: number, seconds: number): Promise<EngineFigures> {
  const config: Partial<MlpVelocityFieldConfig> & { dimension: number } = {
    dimension,
    hidden: referenceModel.hidden,
    layers: referenceModel.layers,
    activation: referenceModel.activation,
    timeFrequencies: referenceModel.timeFrequencies,
  };
  const field = MlpVelocityField.create(config, 0);
  // x1 ~ N(1, 0.25·I): mean 1, standard deviation 0.5, as the peer draws it.
  const sampleData = (rows: number, rng: Rng) =>
    randomNormal<tf.Rank.R2>([rows, dimension], 1, 0.5, 'float32', rng.nextSeed());
  const train = (steps: number, seed: number) =>
    trainFlowMatching({
      field,
      sampleData,
      steps,
      batchSize: referenceModel.batchSize,
      learningRate: referenceModel.learningRate,
      seed,
    });
  try {
    await train(10, 1); // warm-up, as the peer does: compilation, allocator, BLAS thread start
    const calibration = await train(20, 2);
    const steps = Math.max(20, Math.round(calibration.stepsPerSecond * seconds));
    const timed = await train(steps, 3);
    return {
      stepsPerSecond: round(timed.stepsPerSecond, 2),
      steps,
      seconds: round(timed.seconds, 3),
      finalLoss: round(timed.finalLoss, 4),
    };
  } finally {
    field.dispose();
  }
}

export async function runFlowTrainBench(options: FlowTrainBenchOptions) {
  await initTensorBackend();
  const configured = currentNativeKernelsOptions();
  const backend = (await setNativeKernels({ threads: options.threads })) ?? (await initTensorBackend());
  const results = [];
  for (const dimension of options.dimensions) {
    console.error(`[bench flow-train] d = ${dimension}: ours (${backend.kernels})…`);
    const ours = await timeOurs(dimension, options.seconds);
    let wasm: EngineFigures | null = null;
    if (options.alsoWasm && backend.name === 'wasm' && backend.kernels !== 'wasm') {
      console.error(`[bench flow-train] d = ${dimension}: plain WASM…`);
      await setNativeKernels({ setting: 'off' });
      try {
        wasm = await timeOurs(dimension, options.seconds);
      } finally {
        await setNativeKernels({ setting: configured.setting });
      }
    }
    let torch: Record<string, unknown> | null = null;
    let torchReason: string | null = null;
    if (options.torchPeer) {
      console.error(`[bench flow-train] d = ${dimension}: PyTorch…`);
      const args = [
        options.torchPeer,
        ...['--dim', String(dimension), '--hidden', String(referenceModel.hidden)],
        ...['--layers', String(referenceModel.layers), '--batch', String(referenceModel.batchSize)],
        // torch's own pool at 1 thread like our WASM element-wise kernels, its BLAS with ours: the best of
        // the splits measured here (2 intra-op threads on 2 cores oversubscribe with OpenBLAS's pool).
        ...['--seconds', String(options.seconds), '--threads', '1'],
      ];
      const result = runPython(
        args,
        { torchThreads: 1, blasThreads: options.threads },
        (options.seconds * 4 + 120) * 1000,
      );
      if (result.ok) torch = result.json;
      else torchReason = result.reason;
    } else {
      torchReason = 'no PyTorch peer script (pass --torch-peer PATH)';
    }
    const torchRate = typeof torch?.steps_per_s === 'number' ? torch.steps_per_s : null;
    results.push({
      // The flat keys first (dim, ours_steps_per_s, torch_steps_per_s, ratio, backend), then detail.
      dim: dimension,
      ours_steps_per_s: ours.stepsPerSecond,
      torch_steps_per_s: torchRate,
      ratio: torchRate ? round(ours.stepsPerSecond / torchRate, 2) : null,
      backend: `${backend.name}+${backend.kernels}`,
      dimension,
      ours,
      wasm,
      torch: torch && {
        stepsPerSecond: torchRate,
        version: torch.version,
        intraOpThreads: torch.threads,
        blasThreads: options.threads,
        finalLoss: torch.final_loss,
        matmulPeakGflops: torch.matmul_peak_gflops,
      },
      torchReason,
      oursOverTorch: torchRate ? round(ours.stepsPerSecond / torchRate, 2) : null,
      wasmOverTorch: torchRate && wasm ? round(wasm.stepsPerSecond / torchRate, 2) : null,
      oursOverWasm: wasm ? round(ours.stepsPerSecond / wasm.stepsPerSecond, 1) : null,
    });
  }
  return {
    bench: 'flow-train',
    model: { ...referenceModel, input: '[x_t, t]' },
    backend: backend.name,
    kernels: backend.kernels,
    backendDetail: backend.detail,
    threads: options.threads,
    openblasCore: tributaryBlasInfo()?.openblasCore ?? null,
    results,
  };
}

export { defaultTorchFlowPeer };

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
