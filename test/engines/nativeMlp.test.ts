/**
 * The fused MLP kernel pair of the native path (server/engines/nativeKernels.ts `TributaryMlp`, native/
 * src/addon.c `mlpForward` / `mlpBackward`) run through tensor.ts's `mlp`: its values and gradients agree
 * with the per-layer path (plain WASM, and the native per-layer kernels) within fp32 rounding bounds; a
 * gradient in the weights never forms the input gradient and a vector-Jacobian product in x never forms
 * the weight gradients; training reaches the same loss; switching native kernels off restores the plain
 * path.
 *
 * Tolerances: first-order forward error bounds, carried through the network entry by entry. A float32
 * inner product of length k satisfies |fl(aᵀb) − aᵀb| ≤ γ_k·|a|ᵀ|b|, γ_k = k·u/(1 − k·u), u = 2⁻²⁴
 * (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., §3.1), and the bias adds one more
 * rounding: |δz_i| ≤ γ_{k+1}·(|a_{i−1}|·|W_i| + |b_i|) + |δa_{i−1}|·|W_i|. SiLU's derivative lies in
 * [−0.1, 1.1] and its second derivative in [−0.5, 0.5]; its evaluation adds ≤ 4·10⁻⁷·|z| + 4u·|SiLU(z)|
 * (σ's error, as in nativeKernels.test.ts), so |δa| ≤ 1.1·|δz| + 4·10⁻⁷·|z| + 4u·|a|. Backward, with dz of
 * the output layer exact: |δ(da)| ≤ γ_k·|dz|·|W|ᵀ + |δdz|·|W|ᵀ, |δdz| ≤ 1.1·|δda| + 0.5·|da|·|δz| +
 * 4·10⁻⁷·|da|·(1 + 2|z|) + 8u·|dz|, |δdW| ≤ γ_n·|a|ᵀ|dz| + |δa|ᵀ|dz| + |a|ᵀ|δdz|, |δdb| ≤ γ_n·Σ|dz| + Σ|δdz|,
 * |δdx| ≤ γ_k·|dz_0|·|W_0|ᵀ + |δdz_0|·|W_0|ᵀ. Each implementation is within that bound of the exact
 * value, so two of them are within twice it of each other: that (× 1.01 for the bound's own rounding) is
 * what is asserted, per entry. Being worst-case in every sign, it grows by about |W|'s row sums per layer
 * (≈ 19 for 256 fan-in weights, where the actual growth is ≈ √k·|w| ≈ 1.5) and says little about the first
 * layers of a deep network; so each output is also held to 10⁻⁴ of its largest entry, as the gradient test
 * of nativeKernels.test.ts does (observed: below 10⁻⁶).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowMatchingLoss, MlpVelocityField, trainFlowMatching } from '../../server/engines/flows';
import {
  nativeMlpCalls,
  nativeMlpGradKernel,
  nativeMlpKernel,
  tributaryBlasInfo,
  type NativeKernelsSetting,
} from '../../server/engines/nativeKernels';
import { createRng } from '../../server/engines/random';
import {
  initTensorBackend,
  mlp,
  setFusedMlp,
  setNativeKernels,
  tf,
  type DenseParameters,
} from '../../server/engines/tensor';
import { loadTensorSettings } from '../../server/env';

const u = 2 ** -24;
const gamma = (k: number) => (k * u) / (1 - k * u);
const configured = loadTensorSettings();
const built = tributaryBlasInfo();
const nativePaths: NativeKernelsSetting[] = built
  ? [...(built.openblas ? ['openblas' as const] : []), 'portable']
  : [];
const nativeWanted = configured.TRIBUTARY_NATIVE_KERNELS !== 'off';

beforeAll(async () => {
  await initTensorBackend('wasm');
});

afterAll(async () => {
  setFusedMlp(true);
  await setNativeKernels({
    setting: configured.TRIBUTARY_NATIVE_KERNELS,
    threads: configured.TRIBUTARY_BLAS_THREADS,
  });
});

function randomTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  const rng = createRng(seed);
  const size = shape.reduce((p, d) => p * d, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, () => scale * rng.normal()),
    shape,
  );
}

/** A random MLP on widths [w_0, …, w_L] with fan-in scaled weights (activations of order 1 throughout). */
function randomLayers(widths: number[], seed: number): DenseParameters[] {
  return widths.slice(1).map((fanOut, i) => ({
    weight: randomTensor([widths[i], fanOut], seed + 2 * i, 1.5 / Math.sqrt(widths[i])) as tf.Tensor2D,
    bias: randomTensor([fanOut], seed + 2 * i + 1, 0.5) as tf.Tensor1D,
  }));
}

interface Results {
  y: Float32Array;
  dx: Float32Array;
  /** dW_0, db_0, dW_1, db_1, … of Σ y ⊙ r. */
  grads: Float32Array[];
}

/** y, dx and the parameter gradients of Σ mlp(x) ⊙ r, with the given kernels (and fused MLP or not). */
async function resultsWith(
  setting: NativeKernelsSetting,
  fused: boolean,
  x: tf.Tensor2D,
  layers: DenseParameters[],
  r: tf.Tensor2D,
): Promise<Results> {
  await setNativeKernels({ setting, threads: 2 });
  setFusedMlp(fused);
  try {
    return tf.tidy(() => {
      const params = layers.flatMap((layer) => [layer.weight, layer.bias]);
      const y = mlp(x, layers, 'silu');
      const loss = (input: tf.Tensor2D, ...p: tf.Tensor[]) => {
        const rebuilt = layers.map((_, i) => ({
          weight: p[2 * i] as tf.Tensor2D,
          bias: p[2 * i + 1] as tf.Tensor1D,
        }));
        return tf.sum(tf.mul(mlp(input, rebuilt, 'silu'), r));
      };
      const gradients = tf.grads((input: tf.Tensor, ...p: tf.Tensor[]) => loss(input as tf.Tensor2D, ...p))([
        x,
        ...params,
      ]);
      return {
        y: Float32Array.from(y.dataSync()),
        dx: Float32Array.from(gradients[0].dataSync()),
        grads: gradients.slice(1).map((g) => Float32Array.from(g.dataSync())),
      };
    });
  } finally {
    setFusedMlp(true);
  }
}

/** Per-entry bounds on each implementation's error (see the header), computed on plain WASM. */
async function errorBounds(x: tf.Tensor2D, layers: DenseParameters[], r: tf.Tensor2D): Promise<Results> {
  await setNativeKernels({ setting: 'off' });
  return tf.tidy(() => {
    const rows = x.shape[0];
    const absW = layers.map((layer) => tf.abs(layer.weight));
    // Forward: values and bounds of z_i, a_i (a_{−1} = x, exact).
    const a: tf.Tensor2D[] = [x];
    const errA: tf.Tensor2D[] = [tf.zerosLike(x)];
    const z: tf.Tensor2D[] = [];
    const errZ: tf.Tensor2D[] = [];
    layers.forEach((layer, i) => {
      const k = layer.weight.shape[0];
      const zi = tf.add<tf.Tensor2D>(tf.matMul(a[i], layer.weight), layer.bias);
      const errZi = tf.add<tf.Tensor2D>(
        tf.mul(tf.add(tf.matMul(tf.abs(a[i]), absW[i]), tf.abs(layer.bias)), gamma(k + 1)),
        tf.matMul(errA[i], absW[i]),
      );
      z.push(zi);
      errZ.push(errZi);
      if (i < layers.length - 1) {
        const ai = tf.mul<tf.Tensor2D>(zi, tf.sigmoid(zi));
        a.push(ai);
        errA.push(
          tf.add<tf.Tensor2D>(
            tf.add(tf.mul(errZi, 1.1), tf.mul(tf.abs(zi), 4e-7)),
            tf.mul(tf.abs(ai), 4 * u),
          ),
        );
      }
    });
    // Backward from dz_{L−1} = r (exact).
    let dz: tf.Tensor2D = r;
    let errDz: tf.Tensor2D = tf.zerosLike(r);
    const grads: tf.Tensor[] = [];
    let dx: tf.Tensor = tf.zerosLike(x);
    for (let i = layers.length - 1; i >= 0; i--) {
      const absDz = tf.abs(dz);
      const dW = tf.add(
        tf.add(
          tf.mul(tf.matMul(tf.abs(a[i]), absDz, true, false), gamma(rows)),
          tf.matMul(errA[i], absDz, true),
        ),
        tf.matMul(tf.abs(a[i]), errDz, true),
      );
      const db = tf.add(tf.mul(tf.sum(absDz, 0), gamma(rows)), tf.sum(errDz, 0));
      grads.unshift(dW, db);
      const k = layers[i].weight.shape[1];
      const da = tf.matMul(dz, layers[i].weight, false, true);
      const errDa = tf.add(
        tf.mul(tf.matMul(absDz, absW[i], false, true), gamma(k)),
        tf.matMul(errDz, absW[i], false, true),
      );
      if (i === 0) {
        dx = errDa;
        break;
      }
      const zPrev = z[i - 1];
      const sigma = tf.sigmoid(zPrev);
      const nextDz = tf.mul<tf.Tensor2D>(da, tf.mul(sigma, tf.add(1, tf.mul(zPrev, tf.sub(1, sigma)))));
      errDz = tf.add<tf.Tensor2D>(
        tf.add(tf.mul(errDa, 1.1), tf.mul(tf.mul(tf.abs(da), errZ[i - 1]), 0.5)),
        tf.add(
          tf.mul(tf.mul(tf.abs(da), tf.add(1, tf.mul(tf.abs(zPrev), 2))), 4e-7),
          tf.mul(tf.abs(nextDz), 8 * u),
        ),
      );
      dz = nextDz;
    }
    // Two implementations: twice the bound, 1 % for the bound's own rounding, and a floor for zeros.
    const finish = (t: tf.Tensor) => Float32Array.from(tf.add(tf.mul(t, 2.02), 1e-30).dataSync());
    return { y: finish(errZ[errZ.length - 1]), dx: finish(dx), grads: grads.map(finish) };
  });
}

function worstRatio(got: Float32Array, want: Float32Array, bound: Float32Array) {
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const ratio = Math.abs(got[i] - want[i]) / bound[i];
    if (!(ratio <= worst)) {
      worst = ratio;
      at = i;
    }
  }
  return { worst, at, got: got[at], want: want[at], bound: bound[at] };
}

function expectWithin(got: Results, want: Results, bound: Results, label: string) {
  const check = (name: string, g: Float32Array, w: Float32Array, b: Float32Array) => {
    expect(g.length, `${label} ${name}`).toBe(w.length);
    const worst = worstRatio(g, w, b);
    expect(worst.worst, `${label} ${name}: ${JSON.stringify(worst)}`).toBeLessThanOrEqual(1);
    // The bound above compounds |W| layer after layer and grows loose in deep, wide networks; relative to
    // each output's scale, rounding stays far below 10⁻⁴ (about 100·√k·u, as in nativeKernels.test.ts).
    let scale = 0;
    let difference = 0;
    for (let i = 0; i < w.length; i++) {
      scale = Math.max(scale, Math.abs(w[i]));
      difference = Math.max(difference, Math.abs(g[i] - w[i]));
    }
    expect(difference, `${label} ${name}: max |difference| against max |value| ${scale}`).toBeLessThanOrEqual(
      1e-4 * scale,
    );
  };
  check('y', got.y, want.y, bound.y);
  check('dx', got.dx, want.dx, bound.dx);
  want.grads.forEach((w, i) => check(`param ${i}`, got.grads[i], w, bound.grads[i]));
}

describe.skipIf(!nativeWanted || nativePaths.length === 0)('fused MLP kernel', () => {
  // Rows 1, 7, 1024; widths 1, 3, 65, 256 and others off every register block; 1 to 4 layers. With OpenBLAS
  // and 2 threads, batches of 256 rows and more run as two blocks of rows side by side (addon.c).
  const cases: { rows: number; widths: number[] }[] = [
    { rows: 1, widths: [1, 1] },
    { rows: 7, widths: [3, 5] },
    { rows: 1, widths: [3, 17, 1] },
    { rows: 7, widths: [65, 33, 3] },
    { rows: 1024, widths: [3, 256, 256, 256, 2] },
    { rows: 1024, widths: [65, 256, 256, 256, 64] },
    { rows: 7, widths: [1, 1, 1, 1, 1] },
    { rows: 100, widths: [9, 31, 47, 13] },
    { rows: 1024, widths: [17, 129, 1] },
    { rows: 300, widths: [5, 40, 7] }, // two blocks of rows, 152 and 148, with 2 threads
  ];

  it.each(nativePaths)('values and every gradient agree with the per-layer path (%s)', async (path) => {
    for (const [index, { rows, widths }] of cases.entries()) {
      const x = randomTensor([rows, widths[0]], 1000 + index) as tf.Tensor2D;
      const r = randomTensor([rows, widths[widths.length - 1]], 2000 + index) as tf.Tensor2D;
      const layers = randomLayers(widths, 3000 + 20 * index);
      const bound = await errorBounds(x, layers, r);
      const plain = await resultsWith('off', true, x, layers, r);
      const perLayer = await resultsWith(path, false, x, layers, r);
      const before = { ...nativeMlpCalls };
      const fused = await resultsWith(path, true, x, layers, r);
      // The fused kernel really ran: once for y, once under tf.grads, with one call per gradient kind.
      expect(nativeMlpCalls.forward - before.forward).toBe(2);
      expect(nativeMlpCalls.inputGradient - before.inputGradient).toBe(1);
      expect(nativeMlpCalls.weightGradients - before.weightGradients).toBe(1);
      const label = `${path} rows ${rows} widths ${widths.join('-')}`;
      expectWithin(fused, plain, bound, `${label} vs plain WASM`);
      expectWithin(fused, perLayer, bound, `${label} vs native per layer`);
      tf.dispose([x, r, ...layers.flatMap((layer) => [layer.weight, layer.bias])]);
    }
  });

  it('forms only what is differentiated: weights in training, x in a vector-Jacobian product', async () => {
    await setNativeKernels({ setting: nativePaths[0], threads: 2 });
    const field = MlpVelocityField.create({ dimension: 3, hidden: 32, layers: 3, timeFrequencies: 2 }, 3);
    const x0 = randomTensor([50, 3], 1) as tf.Tensor2D;
    const x1 = randomTensor([50, 3], 2) as tf.Tensor2D;
    const t = tf.randomUniform([50, 1], 0, 1, 'float32', 3);
    const tensorsBefore = tf.memory().numTensors;
    const counted = (run: () => void) => {
      const before = { ...nativeMlpCalls };
      run();
      return {
        forward: nativeMlpCalls.forward - before.forward,
        inputGradient: nativeMlpCalls.inputGradient - before.inputGradient,
        weightGradients: nativeMlpCalls.weightGradients - before.weightGradients,
      };
    };
    // Training: gradients in every variable.
    expect(
      counted(() =>
        tf.tidy(() => {
          tf.variableGrads(() => flowMatchingLoss(field, x0, x1, t), field.trainableVariables);
        }),
      ),
    ).toEqual({ forward: 1, inputGradient: 0, weightGradients: 1 });
    // Some variables only (the last layer): one call still, and nothing left behind.
    expect(
      counted(() =>
        tf.tidy(() => {
          const { grads } = tf.variableGrads(
            () => flowMatchingLoss(field, x0, x1, t),
            field.trainableVariables.slice(-2),
          );
          expect(Object.keys(grads)).toHaveLength(2);
        }),
      ),
    ).toEqual({ forward: 1, inputGradient: 0, weightGradients: 1 });
    // A vector-Jacobian product in x (what divergences and Adjoint Matching take).
    expect(
      counted(() =>
        tf.tidy(() => {
          tf.grad((x: tf.Tensor) => tf.sum(tf.mul(field.predict(x as tf.Tensor2D, 0.5), x1)))(x0);
        }),
      ),
    ).toEqual({ forward: 1, inputGradient: 1, weightGradients: 0 });
    // Inference: no gradient at all.
    expect(counted(() => tf.tidy(() => void field.predict(x0, t).dataSync()))).toEqual({
      forward: 1,
      inputGradient: 0,
      weightGradients: 0,
    });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    tf.dispose([x0, x1, t]);
    field.dispose();
  });

  it('two MLPs of one shape in one loss each get their own weight gradients', async () => {
    const x = randomTensor([300, 4], 61) as tf.Tensor2D;
    const first = randomLayers([4, 32, 3], 62);
    const second = randomLayers([4, 32, 3], 72);
    const params = [...first, ...second].flatMap((layer) => [layer.weight, layer.bias]);
    const gradients = async (fused: boolean) => {
      await setNativeKernels({ setting: nativePaths[0], threads: 2 });
      setFusedMlp(fused);
      try {
        return tf.tidy(() => {
          const loss = (...p: tf.Tensor[]) => {
            const layers = (offset: number) => [
              { weight: p[offset] as tf.Tensor2D, bias: p[offset + 1] as tf.Tensor1D },
              { weight: p[offset + 2] as tf.Tensor2D, bias: p[offset + 3] as tf.Tensor1D },
            ];
            return tf.add(tf.sum(mlp(x, layers(0), 'silu')), tf.sum(tf.square(mlp(x, layers(4), 'silu'))));
          };
          return tf
            .grads(loss)(params)
            .map((g) => Float32Array.from(g.dataSync()));
        });
      } finally {
        setFusedMlp(true);
      }
    };
    const perLayer = await gradients(false);
    const before = nativeMlpCalls.weightGradients;
    const fused = await gradients(true);
    expect(nativeMlpCalls.weightGradients - before).toBe(2);
    fused.forEach((values, i) => {
      const scale = Math.max(...perLayer[i].map(Math.abs));
      const worst = Math.max(...values.map((v, j) => Math.abs(v - perLayer[i][j])));
      expect(worst, `parameter ${i}`).toBeLessThanOrEqual(1e-5 * scale);
    });
    tf.dispose([x, ...params]);
  });

  it('other activations keep the per-layer path and its values', async () => {
    await setNativeKernels({ setting: nativePaths[0] });
    const x = randomTensor([9, 4], 51) as tf.Tensor2D;
    const layers = randomLayers([4, 8, 3], 52);
    const before = nativeMlpCalls.forward;
    const got = tf.tidy(() => Array.from(mlp(x, layers, (h) => tf.tanh(h)).dataSync()));
    expect(nativeMlpCalls.forward).toBe(before);
    await setNativeKernels({ setting: 'off' });
    const want = tf.tidy(() =>
      Array.from(
        tf
          .add(
            tf.matMul(tf.tanh(tf.add(tf.matMul(x, layers[0].weight), layers[0].bias)), layers[1].weight),
            layers[1].bias,
          )
          .dataSync(),
      ),
    );
    got.forEach((value, i) => expect(Math.abs(value - want[i])).toBeLessThan(1e-5 * (1 + Math.abs(want[i]))));
    tf.dispose([x, ...layers.flatMap((layer) => [layer.weight, layer.bias])]);
  });

  it('trains a flow to the same loss fused, per layer and on plain WASM', async () => {
    const finalLoss = async (setting: NativeKernelsSetting, fused: boolean) => {
      await setNativeKernels({ setting, threads: 2 });
      setFusedMlp(fused);
      const before = nativeMlpCalls.weightGradients;
      const field = MlpVelocityField.create({ dimension: 2, hidden: 64, layers: 3 }, 21);
      try {
        const result = await trainFlowMatching({
          field,
          steps: 300,
          batchSize: 256,
          learningRate: 2e-3,
          seed: 22,
          // Two Gaussian blobs: the loss plateaus well above zero, so "the same loss" is testable.
          sampleData: (rows, rng) =>
            tf.tidy((): tf.Tensor2D => {
              const side = tf.sign(tf.randomUniform([rows, 1], -1, 1, 'float32', rng.nextSeed()));
              return tf.add(
                tf.mul(side, tf.tensor2d([[2, 1]])),
                tf.randomNormal<tf.Rank.R2>([rows, 2], 0, 0.3, 'float32', rng.nextSeed()),
              );
            }),
        });
        expect(nativeMlpCalls.weightGradients - before).toBe(setting !== 'off' && fused ? 300 : 0);
        return result.finalLoss;
      } finally {
        setFusedMlp(true);
        field.dispose();
      }
    };
    const plain = await finalLoss('off', true);
    const perLayer = await finalLoss(nativePaths[0], false);
    const fused = await finalLoss(nativePaths[0], true);
    // Same seeds: the runs differ by rounding only, which 300 Adam steps amplify a little (the tail means
    // over the last 15 minibatches stay within 3 %).
    expect(Math.abs(fused - plain) / plain).toBeLessThan(0.03);
    expect(Math.abs(fused - perLayer) / perLayer).toBeLessThan(0.03);
  });

  it('is registered with the native kernels and removed with them', async () => {
    await setNativeKernels({ setting: nativePaths[0] });
    expect(tf.getKernel(nativeMlpKernel, 'wasm')).toBeDefined();
    expect(tf.getKernel(nativeMlpGradKernel, 'wasm')).toBeDefined();
    expect(tf.getGradient(nativeMlpKernel)).toBeDefined();
    await setNativeKernels({ setting: 'off' });
    expect(tf.getKernel(nativeMlpKernel, 'wasm')).toBeUndefined();
    expect(tf.getKernel(nativeMlpGradKernel, 'wasm')).toBeUndefined();
    expect(tf.getGradient(nativeMlpKernel)).toBeUndefined();
    // The plain path runs instead, with its values.
    const x = tf.tensor2d([[1, -2]]);
    const layers: DenseParameters[] = [
      { weight: tf.tensor2d([[1], [1]]), bias: tf.tensor1d([0.5]) },
      { weight: tf.tensor2d([[2]]), bias: tf.tensor1d([1]) },
    ];
    const before = nativeMlpCalls.forward;
    const y = tf.tidy(() => mlp(x, layers, 'silu').dataSync()[0]);
    expect(nativeMlpCalls.forward).toBe(before);
    // z = 1 − 2 + 0.5 = −0.5; SiLU(−0.5) = −0.5·σ(−0.5); y = 2·SiLU + 1.
    expect(y).toBeCloseTo(2 * (-0.5 / (1 + Math.exp(0.5))) + 1, 6);
    tf.dispose([x, ...layers.flatMap((layer) => [layer.weight, layer.bias])]);
    // And back on: the fused kernel again.
    await setNativeKernels({ setting: nativePaths[0] });
    tf.tidy(() => mlp(tf.tensor2d([[1, -2]]), randomLayers([2, 3, 1], 9), 'silu').dataSync());
    expect(nativeMlpCalls.forward).toBe(before + 1);
  });
});
