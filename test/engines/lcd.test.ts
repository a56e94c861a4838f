/**
 * LCD (server/engines/lcd, DESIGN.md §5): the noise schedule and drift formula, the DSM loss against its
 * definition, embeddings of perturbation sets, save/load, training (progress, cancellation, no leaked
 * tensors), the prediction metrics against closed forms and hand-computed cases, the ZIP measurement
 * model on simulated counts, and end to end: LCD on a small reversible linear screen gives a CLIPR matrix
 * that finds the true edges.
 */
import { Matrix, inverse } from 'ml-matrix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cliprFromLcd,
  negativePrecisionBaseline,
  pearson,
  scoreCausalMatrix,
} from '../../server/engines/clipr';
import {
  additiveBaseline,
  conditionsFromLabels,
  createLcdModel,
  denoisingScoreMatchingLoss,
  driftSkipCoefficient,
  energyDistance,
  expectedCounts,
  fitZipMeasurement,
  posteriorLatents,
  LcdModel,
  meanOf,
  mmdRbf,
  noiseLevels,
  predictionMetrics,
  sampleCounts,
  sampleLcd,
  topDifferentialGenes,
  trainLcd,
  type LcdTrainingData,
  type ZipMeasurement,
} from '../../server/engines/lcd';
import { createRng } from '../../server/engines/random';
import { initTensorBackend, tf } from '../../server/engines/tensor';
import { syntheticScreen } from '../../server/perturbation/synthetic';

beforeAll(async () => {
  await initTensorBackend('wasm');
});
afterAll(async () => {
  await initTensorBackend('wasm');
});

/** A small data set: three conditions of Gaussian cells in d = 4. */
function toyData(seed = 1): LcdTrainingData {
  const rng = createRng(seed);
  const d = 4;
  const labels: string[] = [];
  const values: number[] = [];
  const means: Record<string, number[]> = {
    control: [0, 0, 0, 0],
    A: [2, 0, -1, 0],
    'A+B': [2, 1, -1, 3],
    B: [0, 1, 0, 3],
  };
  for (const [label, mean] of Object.entries(means)) {
    for (let i = 0; i < 50; i++) {
      labels.push(label);
      for (let j = 0; j < d; j++) values.push(mean[j] + 0.5 * rng.normal());
    }
  }
  const { conditions, conditionOfCell } = conditionsFromLabels(labels);
  return { dimension: d, cells: Float32Array.from(values), conditions, conditionOfCell };
}

function readRows(tensor: tf.Tensor): number[][] {
  const rows = tensor.arraySync() as number[][];
  tensor.dispose();
  return rows;
}

describe('noise schedule and drift coefficient', () => {
  it('has 30 geometric levels from 10 to 0.01 by default', () => {
    const levels = noiseLevels({ max: 10, min: 0.01, count: 30 });
    expect(levels).toHaveLength(30);
    expect(levels[0]).toBe(10);
    expect(levels[29]).toBeCloseTo(0.01, 15);
    for (let i = 1; i < 30; i++) expect(levels[i] / levels[i - 1]).toBeCloseTo(Math.pow(1e-3, 1 / 29), 14);
    expect(() => noiseLevels({ max: 1, min: 2, count: 5 })).toThrow();
  });

  it('κ(σ) = (1/√(1+σ²) − 1)/σ², stable as σ → 0 (limit −1/2)', () => {
    for (const sigma of [0.3, 1, 4]) {
      const direct = (1 / Math.sqrt(1 + sigma * sigma) - 1) / (sigma * sigma);
      expect(driftSkipCoefficient(sigma)).toBeCloseTo(direct, 14);
    }
    // The difference form cancels to nothing at σ = 1e-9; the rewritten one keeps full precision.
    expect(driftSkipCoefficient(1e-9)).toBeCloseTo(-0.5, 15);
  });
});

describe('LcdModel', () => {
  it('plain: f_θ = (u − σ·h_θ − x)/σ² with u = x/√(1+σ²) (DESIGN.md §5)', () => {
    const data = toyData();
    const model = createLcdModel(data, { hidden: 16, layers: 2, parametrisation: 'plain' }, 3);
    // Give the zero-initialised output layer values, so that h_θ is not zero.
    model.assignVariables(
      model.trainableVariables.map((v, i) =>
        tf.add(v, tf.mul(0.1, tf.randomNormal(v.shape, 0, 1, 'float32', i))),
      ),
    );
    const x = [
      [0.3, -1, 2, 0.5],
      [-0.7, 0.2, 0.1, -2],
    ];
    for (const level of [0, 10, 29]) {
      const sigma = model.levels[level];
      const [drift, h] = tf.tidy(() => {
        const noise = model.noiseRowsAt(level, 2);
        const embedding = model.embed(tf.tensor2d(model.conditionWeights([['A'], ['A', 'B']]), [2, 2]));
        const xs = tf.tensor2d(x);
        const u = tf.div<tf.Tensor2D>(xs, Math.sqrt(1 + sigma * sigma));
        return [model.drift(xs, noise, embedding), model.network(u, noise, embedding)];
      });
      const f = readRows(drift);
      const hRows = readRows(h);
      x.forEach((row, r) =>
        row.forEach((xj, j) => {
          const u = xj / Math.sqrt(1 + sigma * sigma);
          const expected = (u - sigma * hRows[r][j] - xj) / (sigma * sigma);
          // float32 arithmetic: relative 1e-5 of the terms, which at σ_min are ~1/σ larger than f.
          const scale = (Math.abs(xj) + Math.abs(hRows[r][j])) / sigma;
          expect(Math.abs(f[r][j] - expected)).toBeLessThan(1e-5 * scale + 1e-6);
        }),
      );
    }
    model.dispose();
  });

  it('gaussian: f_θ = −(Σ̂ + σ²I)⁻¹(x − g_θ), Σ̂ the pooled within-condition covariance', () => {
    const data = toyData();
    const model = createLcdModel(data, { hidden: 16, layers: 2, parametrisation: 'gaussian' }, 3);
    const d = 4;
    // Σ̂ directly from the standardised cells, condition by condition.
    const latents = model.standardise(data.cells);
    const pooled = Matrix.zeros(d, d);
    data.conditions.forEach((_, c) => {
      const rows: number[][] = [];
      for (let i = 0; i < data.conditionOfCell.length; i++)
        if (data.conditionOfCell[i] === c) rows.push(Array.from(latents.subarray(i * d, (i + 1) * d)));
      const centred = new Matrix(rows).center('column');
      pooled.add(centred.transpose().mmul(centred));
    });
    pooled.div(data.conditionOfCell.length - data.conditions.length);
    const { vectors, values } = model.gaussian!;
    const rebuilt = new Matrix(d, d);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) {
        let sum = 0;
        for (let k = 0; k < d; k++) sum += vectors[i * d + k] * values[k] * vectors[j * d + k];
        rebuilt.set(i, j, sum);
      }
    expect(Matrix.sub(rebuilt, pooled).norm() / pooled.norm()).toBeLessThan(1e-5);

    const x = [[0.5, -0.2, 1.5, -1]];
    const level = 29;
    const sigma = model.levels[level];
    const [drift, g] = tf.tidy(() => {
      const noise = model.noiseRowsAt(level, 1);
      const embedding = model.embed(tf.tensor2d(model.conditionWeights([['B']]), [1, 2]));
      const xs = tf.tensor2d(x);
      return [
        model.drift(xs, noise, embedding),
        model.network(tf.div<tf.Tensor2D>(xs, Math.sqrt(1 + sigma * sigma)), noise, embedding),
      ];
    });
    const precision = inverse(Matrix.add(pooled, Matrix.eye(d).mul(sigma * sigma)));
    const centre = readRows(g)[0];
    const expected = precision
      .mmul(Matrix.columnVector(x[0].map((v, j) => v - centre[j])))
      .mul(-1)
      .to1DArray();
    const f = readRows(drift)[0];
    // The slope has entries up to 1/λ_min(Σ̂) ≈ 10: float32 leaves ≈ 1e-5 relative.
    f.forEach((value, j) =>
      expect(Math.abs(value - expected[j])).toBeLessThan(1e-4 * (1 + Math.abs(expected[j]))),
    );
    model.dispose();
  });

  it('embeds a set as the sum of its genes, and an untrained gene as the mean embedding', () => {
    const model = createLcdModel(toyData(), { hidden: 8, layers: 1 }, 1);
    expect(model.config.perturbations).toEqual(['A', 'B']);
    expect(Array.from(model.conditionWeights([[], ['A'], ['A', 'B'], ['Z'], ['A', 'Z']]))).toEqual([
      0, 0, 1, 0, 1, 1, 0.5, 0.5, 1.5, 0.5,
    ]);
    const embeddings = readRows(model.trainableVariables[0].clone());
    const sum = readRows(model.embed(tf.tensor2d([[1, 1]])))[0];
    sum.forEach((v, k) => expect(v).toBeCloseTo(embeddings[0][k] + embeddings[1][k], 5));
    model.dispose();
  });

  it('saves to JSON and loads back to the same drift', () => {
    for (const parametrisation of ['plain', 'gaussian'] as const) {
      const model = createLcdModel(toyData(), { hidden: 8, layers: 2, parametrisation }, 2);
      model.assignVariables(
        model.trainableVariables.map((v, i) => tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', i))),
      );
      const restored = LcdModel.fromWeights(
        JSON.parse(JSON.stringify(model.getWeights())) as ReturnType<LcdModel['getWeights']>,
      );
      const evaluate = (m: LcdModel) =>
        readRows(
          tf.tidy(() =>
            m.drift(
              tf.tensor2d([[1, 2, 3, 4]]),
              m.noiseRowsAt(20, 1),
              m.embed(tf.tensor2d(m.conditionWeights([['A', 'B']]), [1, 2])),
            ),
          ),
        );
      expect(evaluate(restored)).toEqual(evaluate(model));
      expect(Array.from(restored.center)).toEqual(Array.from(model.center));
      const weights = model.getWeights();
      expect(() => LcdModel.fromWeights({ ...weights, format: 'x' as 'tributary.lcd/v1' })).toThrow(/format/);
      expect(() => LcdModel.fromWeights({ ...weights, tensors: weights.tensors.slice(1) })).toThrow(/lack/);
      model.dispose();
      restored.dispose();
    }
  });

  it('standardises and unstandardises cells', () => {
    const data = toyData();
    const model = createLcdModel(data, { hidden: 8, layers: 1 }, 1);
    const latents = model.standardise(data.cells);
    expect(meanOf(latents, 4).every((m) => Math.abs(m) < 1e-5)).toBe(true);
    const back = model.unstandardise(latents);
    back.forEach((v, i) => expect(v).toBeCloseTo(data.cells[i], 4));
    model.dispose();
  });
});

describe('denoising score matching loss', () => {
  it('equals σ²·½·mean(f_θ(x̃) + (x̃ − x)/σ²)² computed from the drift', () => {
    const data = toyData();
    const model = createLcdModel(data, { hidden: 16, layers: 2, parametrisation: 'plain' }, 4);
    model.assignVariables(
      model.trainableVariables.map((v, i) => tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', i))),
    );
    const rng = createRng(5);
    const n = 6;
    const clean = Float32Array.from({ length: n * 4 }, () => rng.normal());
    const noise = Float32Array.from({ length: n * 4 }, () => rng.normal());
    const levels = [0, 5, 12, 20, 27, 29];
    const weights = model.conditionWeights([[], ['A'], ['B'], ['A', 'B'], ['A'], []]);
    const loss = tf.tidy(() =>
      denoisingScoreMatchingLoss(model, {
        clean: tf.tensor2d(clean, [n, 4]),
        conditionWeights: tf.tensor2d(weights, [n, 2]),
        levelIndices: tf.tensor1d(levels, 'int32'),
        noise: tf.tensor2d(noise, [n, 4]),
      }),
    );
    const value = loss.dataSync()[0];
    loss.dispose();
    let expected = 0;
    levels.forEach((level, r) => {
      const sigma = model.levels[level];
      const noisy = Array.from({ length: 4 }, (_, j) => clean[r * 4 + j] + sigma * noise[r * 4 + j]);
      const f = readRows(
        tf.tidy(() =>
          model.drift(
            tf.tensor2d([noisy]),
            model.noiseRowsAt(level, 1),
            model.embed(tf.tensor2d(weights.subarray(r * 2, r * 2 + 2), [1, 2])),
          ),
        ),
      )[0];
      for (let j = 0; j < 4; j++) {
        const target = (noisy[j] - clean[r * 4 + j]) / (sigma * sigma);
        expected += (sigma * sigma * 0.5 * (f[j] + target) ** 2) / (n * 4);
      }
    });
    // The reference squares a difference of two ~1/σ² terms at σ = 0.01; float32 drift values carry
    // relative errors ~1e-6 of 1e4-sized terms, so agreement to 1e-3 relative is what float32 allows.
    expect(Math.abs(value - expected) / expected).toBeLessThan(1e-3);
    model.dispose();
  });
});

describe('trainLcd', () => {
  it('reports progress, lowers the loss and leaks no tensors', async () => {
    const data = toyData();
    const model = createLcdModel(data, { hidden: 32, layers: 2 }, 1);
    const before = tf.memory().numTensors;
    const reports: number[] = [];
    const result = await trainLcd({
      model,
      data,
      steps: 200,
      batchSize: 64,
      seed: 1,
      reportEvery: 50,
      onStep: ({ step, totalSteps, loss, etaSeconds }) => {
        reports.push(step);
        expect(totalSteps).toBe(200);
        expect(Number.isFinite(loss) && etaSeconds >= 0).toBe(true);
      },
    });
    expect(reports).toEqual([50, 100, 150, 200]);
    expect(tf.memory().numTensors).toBe(before);
    const early = result.lossCurve.slice(0, 20).reduce((a, b) => a + b.loss, 0) / 20;
    expect(result.finalLoss).toBeLessThan(early);
    expect(result.stepsPerSecond).toBeGreaterThan(0);
    model.dispose();
  });

  it('stops on an aborted signal and releases its tensors', async () => {
    const data = toyData();
    const model = createLcdModel(data, { hidden: 16, layers: 1 }, 1);
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const run = trainLcd({
      model,
      data,
      steps: 10_000,
      batchSize: 32,
      seed: 1,
      reportEvery: 5,
      onStep: ({ step }) => {
        if (step === 20) controller.abort(new Error('cancelled by test'));
      },
      signal: controller.signal,
    });
    await expect(run).rejects.toThrow('cancelled by test');
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('rejects inconsistent data', async () => {
    const data = toyData();
    const model = createLcdModel(data, { hidden: 8, layers: 1 }, 1);
    await expect(
      trainLcd({ model, data: { ...data, conditionOfCell: [0] }, steps: 1, seed: 1 }),
    ).rejects.toThrow(/condition indices/);
    model.dispose();
  });
});

describe('LCD + CLIPR on a reversible linear screen', () => {
  it('recovers the true edges (AUROC ≥ 0.95, Pearson ≥ 0.9) and samples close to the observed cells', async () => {
    const d = 10;
    const screen = syntheticScreen({
      genes: d,
      graph: 'er',
      family: 'reversible',
      seed: 2,
      cellsPerCondition: 200,
    });
    const { conditions, conditionOfCell } = conditionsFromLabels(screen.labels);
    const data = { dimension: d, cells: screen.cells, conditions, conditionOfCell };
    const model = createLcdModel(data, { hidden: 64, layers: 2, parametrisation: 'gaussian' }, 1);
    const training = await trainLcd({ model, data, steps: 400, batchSize: 256, seed: 1 });
    const clipr = cliprFromLcd(model);
    const scores = scoreCausalMatrix(clipr.drift, screen.trueMatrix);
    const control = screen.cells.subarray(0, 200 * d);
    const precision = scoreCausalMatrix(negativePrecisionBaseline(control, d).matrix, screen.trueMatrix);
    console.info(
      `LCD+CLIPR d=${d} reversible ER: AUROC ${scores.auroc.toFixed(3)}, sign AUROC ${scores.signAuroc.toFixed(3)}, ` +
        `Pearson ${scores.pearson.toFixed(3)}, F1 ${scores.f1.toFixed(3)} (−Σ̂⁻¹ of control: AUROC ${precision.auroc.toFixed(3)}, ` +
        `Pearson ${precision.pearson.toFixed(3)}); 400 steps in ${training.seconds.toFixed(1)} s`,
    );
    // The reversible case is where DESIGN.md §5 says CLIPR must recover A (up to the factor 2/σ²).
    expect(scores.auroc).toBeGreaterThanOrEqual(0.95);
    expect(scores.pearson).toBeGreaterThanOrEqual(0.9);
    expect(Math.max(...clipr.residuals)).toBeLessThan(1e-3);
    expect(clipr.effects[2][5]).toBe(clipr.drift[5][2]);

    // A trained single: predicted cells are far closer to the observed ones than the control cells are.
    const single = screen.conditions[3];
    const observed = screen.cells.subarray(
      screen.labels.indexOf(single.label) * d,
      (screen.labels.indexOf(single.label) + single.cells) * d,
    );
    const [predicted] = sampleLcd(model, [single.label.split('+')], 200, { seed: 5 });
    expect(energyDistance(predicted, observed, d)).toBeLessThan(0.2 * energyDistance(control, observed, d));
    model.dispose();
  }, 60_000);
});

/** Φ via Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, far below the tolerances it serves). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return 0.5 * (1 + (z >= 0 ? erf : -erf));
}

describe('prediction metrics', () => {
  it('energy distance: hand-computed cases', () => {
    // x = {0, 1}, y = {3, 5}: E|X−Y| = (3 + 5 + 2 + 4)/4 = 3.5, E|X−X'| = 1, E|Y−Y'| = 2 → 7 − 1 − 2 = 4.
    expect(energyDistance([0, 1], [3, 5], 1)).toBeCloseTo(4, 14);
    // 2-D: x = {(0,0), (3,4)}, y = {(0,0), (0,4)}: cross 0, 4, 5, 3 → 3; within 5 and 4 → 6 − 5 − 4 = −3.
    expect(energyDistance([0, 0, 3, 4], [0, 0, 0, 4], 2)).toBeCloseTo(-3, 14);
    expect(() => energyDistance([1], [1, 2], 1)).toThrow();
  });

  it('energy distance: N(0,1) against N(1,1) matches the closed form', () => {
    const rng = createRng(11);
    const n = 2000;
    const x = Float64Array.from({ length: n }, () => rng.normal());
    const y = Float64Array.from({ length: n }, () => 1 + rng.normal());
    // X − Y ~ N(−1, 2): E|Z| = s√(2/π)e^{−μ²/2s²} + μ(1 − 2Φ(−μ/s)) with μ = 1, s = √2; E|X − X'| = 2/√π.
    const s = Math.SQRT2;
    const cross = s * Math.sqrt(2 / Math.PI) * Math.exp(-1 / (2 * s * s)) + (1 - 2 * normalCdf(-1 / s));
    const exact = 2 * cross - 2 * (2 / Math.sqrt(Math.PI));
    // The estimate's standard deviation over seeds is 0.053 at n = 1000 (measured over 20 seeds), so
    // ≈ 0.037 at n = 2000; 0.15 is 4 standard deviations.
    expect(Math.abs(energyDistance(x, y, 1) - exact)).toBeLessThan(0.15);
  });

  it('MMD²: hand-computed case and the Gaussian closed form', () => {
    // x = {0, 1}, y = {0, 2}, h = 1: k(a, b) = e^{−(a−b)²/2}.
    const k = (a: number, b: number) => Math.exp(-((a - b) ** 2) / 2);
    const expected = k(0, 1) + k(0, 2) - ((k(0, 0) + k(0, 2) + k(1, 0) + k(1, 2)) * 2) / 4;
    expect(mmdRbf([0, 1], [0, 2], 1, [1])).toBeCloseTo(expected, 14);
    // Averaging over bandwidths averages the MMD²s.
    expect(mmdRbf([0, 1], [0, 2], 1, [1, 2])).toBeCloseTo(
      (mmdRbf([0, 1], [0, 2], 1, [1]) + mmdRbf([0, 1], [0, 2], 1, [2])) / 2,
      14,
    );

    // N(0, s²I) against N(δ, s²I) in 2-D: E k(X, Y) = (h²/(h² + 2s²))·exp(−‖δ‖²/(2(h² + 2s²))), so
    // MMD² = 2c(1 − exp(−‖δ‖²/(2(h² + 2s²)))) with c = h²/(h² + 2s²).
    const rng = createRng(12);
    const n = 1000;
    const x = Float64Array.from({ length: 2 * n }, () => 0.5 * rng.normal());
    const y = Float64Array.from({ length: 2 * n }, (_, i) => (i % 2 === 0 ? 0.6 : -0.3) + 0.5 * rng.normal());
    const c = 1 / (1 + 2 * 0.25);
    const exact = 2 * c * (1 - Math.exp(-0.45 / (2 * (1 + 2 * 0.25))));
    // Standard deviation over seeds 0.014 at n = 1000 (measured over 20 seeds); 0.056 is 4 of them.
    expect(Math.abs(mmdRbf(x, y, 2, [1]) - exact)).toBeLessThan(0.056);
  });

  it('scores a perfect prediction, picks the top DE genes, and builds the additive baseline', () => {
    const d = 3;
    const control = Float32Array.from([0, 0, 0, 1, 1, 1, 2, 0, 1]);
    const observed = Float32Array.from([5, 0, 1, 6, 1, 2, 7, 0, 2]);
    const perfect = predictionMetrics(observed, observed, control, d, { topDe: 2 });
    expect(perfect.all.rmseMean).toBe(0);
    expect(perfect.all.pearsonShift).toBeCloseTo(1, 12);
    expect(perfect.topDeGenes).toEqual([0, 2]);
    expect(topDifferentialGenes([5, 1, 2], [1, 1, 1], 2)).toEqual([0, 2]);
    // Energy distance of a sample with itself (U-statistic within terms): 2·V-mean − 2·U-mean < 0 ≤ 0.
    expect(perfect.all.energyDistance).toBeLessThanOrEqual(0);

    const singleMeans = [
      [2, 1, 0],
      [3, 1, 1],
    ];
    const additive = additiveBaseline(control, singleMeans, d);
    const controlMean = meanOf(control, d);
    // Σ_k (μ_k − μ_ctrl) = (2 + 3 − 2, 1 + 1 − 2·2/3, 0 + 1 − 2·2/3) added to the control mean.
    const shifted = meanOf(additive, d);
    const expectedShift = [0, 1, 2].map((j) => singleMeans[0][j] + singleMeans[1][j] - 2 * controlMean[j]);
    shifted.forEach((m, j) => expect(m).toBeCloseTo(controlMean[j] + expectedShift[j], 5));
  });
});

describe('ZIP measurement model', () => {
  it('recovers the dropout probabilities of simulated counts and maps latents back to counts', async () => {
    const rng = createRng(21);
    const cells = 3000;
    const truth: ZipMeasurement = {
      format: 'tributary.zip-measurement/v1',
      dropout: [0.1, 0.3, 0, 0.5],
      scale: [5, 2, 10, 3],
      priorMean: [0.5, 0.5, 0.5, 0.5],
      priorVariance: [1, 1, 1, 1],
    };
    const latents = Float32Array.from({ length: cells * 4 }, () => 0.5 + rng.normal());
    const counts = sampleCounts(truth, latents, () => rng.uniform());
    const fit = await fitZipMeasurement(counts, 4, { steps: 300 });
    // A dropout estimate from 3000 cells has a standard error of about 0.01–0.02 (binomial error of the
    // excess zeros, inflated by how well a low λ mimics a dropout); 0.05 is about 3 of them.
    fit.measurement.dropout.forEach((p, j) => expect(Math.abs(p - truth.dropout[j])).toBeLessThan(0.05));
    expect(fit.latents).toHaveLength(cells * 4);
    // The same posterior means, computed for given counts from the fitted model alone.
    expect(posteriorLatents(fit.measurement, counts)).toEqual(fit.latents);
    expect(fit.logLikelihood.every(Number.isFinite)).toBe(true);
    // Posterior-mean latents follow the true ones (Poisson noise caps the correlation well below 1).
    const column = (values: ArrayLike<number>, j: number) =>
      Array.from({ length: cells }, (_, i) => values[i * 4 + j]);
    expect(pearson(column(fit.latents, 2), column(latents, 2))).toBeGreaterThan(0.8);

    // Mapping back: the mean of sampled counts matches the expected counts (law of large numbers: the
    // per-entry standard deviation is ≤ √(E x + Var) ≈ 10, so 3000 cells give a standard error ≈ 0.2).
    const expected = expectedCounts(fit.measurement, fit.latents);
    const sampled = sampleCounts(fit.measurement, fit.latents, () => rng.uniform());
    for (let j = 0; j < 4; j++) {
      const mean = (values: ArrayLike<number>) => column(values, j).reduce((a, b) => a + b, 0) / cells;
      expect(Math.abs(mean(sampled) - mean(expected))).toBeLessThan(1);
    }
    await expect(fitZipMeasurement([1.5, 2], 1)).rejects.toThrow(/integers/);
  });
});
