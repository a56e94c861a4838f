/**
 * tensor.ts's `randomNormal` draws tf.randomNormal's numbers: on the native path the addon runs tfjs's
 * generator (seedrandom's Alea and Marsaglia's polar method, nativeKernels.ts `TributaryRandomNormal`), so
 * the values must be bit-identical to tf.randomNormal's for every seed, mean, deviation and shape; elsewhere
 * it is tf.randomNormal itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  aleaState,
  nativeRandomNormalKernel,
  tributaryBlasInfo,
  type NativeKernelsSetting,
} from '../../server/engines/nativeKernels';
import { initTensorBackend, randomNormal, setNativeKernels, tf } from '../../server/engines/tensor';
import { loadTensorSettings } from '../../server/env';

const configured = loadTensorSettings();
const built = tributaryBlasInfo();
const nativePath: NativeKernelsSetting | undefined = built
  ? built.openblas
    ? 'openblas'
    : 'portable'
  : undefined;
const nativeWanted = configured.TRIBUTARY_NATIVE_KERNELS !== 'off';

beforeAll(async () => {
  await initTensorBackend('wasm');
});

afterAll(async () => {
  await setNativeKernels({ setting: configured.TRIBUTARY_NATIVE_KERNELS });
});

/** The values of `draw` as a plain array (the tensor is released). */
function values(draw: () => tf.Tensor): Float32Array {
  return tf.tidy(() => Float32Array.from(draw().dataSync()));
}

describe.skipIf(!nativeWanted || !nativePath)('native randomNormal', () => {
  it('seeds Alea as seedrandom does (known states)', () => {
    // seedrandom 3's alea('1').state() and alea('hello').state(), the generator tfjs seeds from the seed.
    expect(Array.from(aleaState('1'))).toEqual([
      1, 0.14413124159909785, 0.8855089824646711, 0.6692055738531053,
    ]);
    expect(Array.from(aleaState('hello'))).toEqual([
      1, 0.8366677400190383, 0.385924787260592, 0.47382013057358563,
    ]);
  });

  it('draws the same float32 values as tf.randomNormal, bit for bit', async () => {
    await setNativeKernels({ setting: nativePath });
    const cases: { shape: number[]; mean: number; stdDev: number; seed: number }[] = [
      { shape: [1024, 64], mean: 1, stdDev: 0.5, seed: 7 },
      { shape: [1024, 2], mean: 0, stdDev: 1, seed: 4_294_967_295 },
      { shape: [3], mean: 0, stdDev: 1, seed: 1 }, // odd count: the second of the last pair is dropped
      { shape: [1], mean: -2, stdDev: 3, seed: 0.125 },
      { shape: [5, 7, 9], mean: 1e3, stdDev: 1e-3, seed: 123_456_789 },
      { shape: [0, 3], mean: 0, stdDev: 1, seed: 5 },
    ];
    for (const { shape, mean, stdDev, seed } of cases) {
      const native = values(() => randomNormal(shape, mean, stdDev, 'float32', seed));
      const reference = values(() => tf.randomNormal(shape, mean, stdDev, 'float32', seed));
      expect(native.length).toBe(reference.length);
      let mismatches = 0;
      for (let i = 0; i < reference.length; i++) if (!Object.is(native[i], reference[i])) mismatches++;
      expect(mismatches, JSON.stringify({ shape, mean, stdDev, seed })).toBe(0);
    }
  });

  it('runs the native kernel on the native path only, with the same values off it', async () => {
    await setNativeKernels({ setting: nativePath });
    expect(tf.getKernel(nativeRandomNormalKernel, 'wasm')).toBeDefined();
    const before = tf.memory().numTensors;
    const native = values(() => randomNormal([300], 0, 1, 'float32', 99));
    expect(tf.memory().numTensors).toBe(before);
    await setNativeKernels({ setting: 'off' });
    expect(tf.getKernel(nativeRandomNormalKernel, 'wasm')).toBeUndefined();
    expect(values(() => randomNormal([300], 0, 1, 'float32', 99))).toEqual(native);
    // int32 is tf.randomNormal's own (rounded) draw on every path.
    await setNativeKernels({ setting: nativePath });
    const rounded = tf.tidy(() => randomNormal([50], 0, 10, 'int32', 3));
    expect(rounded.dtype).toBe('int32');
    expect(Array.from(rounded.dataSync())).toEqual(
      Array.from(tf.tidy(() => tf.randomNormal([50], 0, 10, 'int32', 3)).dataSync()),
    );
    rounded.dispose();
  });

  it('has mean and deviation as asked (a draw of 10⁵)', async () => {
    await setNativeKernels({ setting: nativePath });
    const sample = values(() => randomNormal([100_000], 2, 3, 'float32', 11));
    const mean = sample.reduce((s, v) => s + v, 0) / sample.length;
    const variance = sample.reduce((s, v) => s + (v - mean) ** 2, 0) / (sample.length - 1);
    // Standard errors: 3/√n ≈ 0.0095 for the mean, ≈ 9·√(2/n) ≈ 0.04 for the variance; 5 of each.
    expect(Math.abs(mean - 2)).toBeLessThan(0.05);
    expect(Math.abs(variance - 9)).toBeLessThan(0.2);
  });
});
