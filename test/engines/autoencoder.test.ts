/** The categorical autoencoder (server/engines/autoencoder.ts): reconstruction, standardisation, storage. */
import { beforeAll, describe, expect, it } from 'vitest';
import { CategoricalAutoencoder, trainAutoencoder } from '../../server/engines/autoencoder';
import { createRng } from '../../server/engines/random';
import { initTensorBackend, tf } from '../../server/engines/tensor';

beforeAll(async () => {
  await initTensorBackend('wasm');
});

const config = { positions: 8, classes: 5, latent: 4, hidden: 64, layers: 2 };

/** `rows` distinct random strings of 8 symbols over 5 classes (5⁸ = 390,625 possible). */
function randomStrings(rows: number, seed: number): Int32Array {
  const rng = createRng(seed);
  const seen = new Set<string>();
  const out = new Int32Array(rows * config.positions);
  for (let row = 0; row < rows;) {
    const s = Array.from({ length: config.positions }, () => Math.floor(rng.uniform() * config.classes));
    if (seen.has(s.join())) continue;
    seen.add(s.join());
    out.set(s, row * config.positions);
    row++;
  }
  return out;
}

describe('CategoricalAutoencoder', () => {
  it('learns to reconstruct every training string exactly through a 4-dimensional latent', async () => {
    // 30 strings through d = 4: a lookup table the MLPs can learn; the loss starts at 8·ln 5 ≈ 12.9 nats.
    const classes = randomStrings(30, 1);
    const autoencoder = CategoricalAutoencoder.create(config, 2);
    try {
      const before = tf.memory().numTensors;
      const result = await trainAutoencoder({ autoencoder, classes, steps: 800, batchSize: 64, seed: 3 });
      // Training leaves no tensor behind (batches, noise, optimiser moments).
      expect(tf.memory().numTensors).toBe(before);
      expect(result.reconstruction).toBe(1);
      expect(result.finalLoss).toBeLessThan(1);
      expect(Array.from(autoencoder.decode(autoencoder.encode(classes)))).toEqual(Array.from(classes));
    } finally {
      autoencoder.dispose();
    }
  });

  it("with a heavy KL weight, collapses every posterior to the prior N(0, I) (the KL term's minimiser)", async () => {
    // KL(N(μ, σ²) ‖ N(0, 1)) = ½(μ² + σ² − 1 − log σ²) is minimised exactly at μ = 0, σ² = 1; at β = 10⁴
    // the reconstruction term (≤ 8·ln 5 ≈ 13 nats) cannot hold the posteriors away from it.
    const classes = randomStrings(40, 12);
    const autoencoder = CategoricalAutoencoder.create(config, 13);
    try {
      await trainAutoencoder({ autoencoder, classes, steps: 300, batchSize: 40, klWeight: 1e4, seed: 14 });
      const { mean, logVariance } = autoencoder.posterior(autoencoder.oneHot(classes, 40));
      const means = Array.from(mean.dataSync());
      const variances = Array.from(logVariance.dataSync(), Math.exp);
      mean.dispose();
      logVariance.dispose();
      // Adam at lr 2·10⁻³ settles within a few 10⁻³ of the optimum; 0.05 leaves room for its oscillation.
      expect(Math.max(...means.map(Math.abs))).toBeLessThan(0.05);
      expect(Math.max(...variances.map((v) => Math.abs(v - 1)))).toBeLessThan(0.05);
    } finally {
      autoencoder.dispose();
    }
  });

  it('standardises its latents to unit root mean variance over the training rows', async () => {
    const classes = randomStrings(50, 4);
    const autoencoder = CategoricalAutoencoder.create(config, 5);
    try {
      await trainAutoencoder({ autoencoder, classes, steps: 50, batchSize: 32, seed: 6 });
      const z = autoencoder.encode(classes);
      let variance = 0;
      for (let j = 0; j < config.latent; j++) {
        const column = Array.from({ length: 50 }, (_, i) => z[i * config.latent + j]);
        const mean = column.reduce((a, b) => a + b, 0) / 50;
        variance += column.reduce((a, b) => a + (b - mean) ** 2, 0) / 50;
      }
      // float32 latents: the mean variance is 1 up to rounding (1e-5 relative, far above float32's 6e-8).
      expect(variance / config.latent).toBeCloseTo(1, 4);
      expect(autoencoder.scale).toBeGreaterThan(0);
    } finally {
      autoencoder.dispose();
    }
  });

  it('reloads from its weights exactly (same logits, same scale)', async () => {
    const classes = randomStrings(20, 7);
    const autoencoder = CategoricalAutoencoder.create(config, 8);
    await trainAutoencoder({ autoencoder, classes, steps: 20, batchSize: 16, seed: 9 });
    const reloaded = CategoricalAutoencoder.fromWeights(
      JSON.parse(JSON.stringify(autoencoder.getWeights())) as ReturnType<typeof autoencoder.getWeights>,
    );
    try {
      const z = autoencoder.encode(classes);
      expect(Array.from(reloaded.encode(classes))).toEqual(Array.from(z));
      expect(Array.from(reloaded.decodeLogits(z))).toEqual(Array.from(autoencoder.decodeLogits(z)));
      expect(reloaded.scale).toBe(autoencoder.scale);
    } finally {
      autoencoder.dispose();
      reloaded.dispose();
    }
  });

  it('refuses class indices out of range, ragged rows and bad weights, and leaks no tensors', async () => {
    const autoencoder = CategoricalAutoencoder.create(config, 10);
    try {
      const before = tf.memory().numTensors;
      expect(() => autoencoder.encode(new Int32Array(8).fill(5))).toThrow(/class index 5 outside 0…4/);
      expect(() => autoencoder.encode(new Int32Array(7))).toThrow(/rows of 8/);
      expect(() => autoencoder.decodeLogits(new Float32Array(5))).toThrow(/rows of 4/);
      await expect(
        trainAutoencoder({ autoencoder, classes: new Int32Array(8).fill(-1), steps: 1 }),
      ).rejects.toThrow(/class index -1/);
      autoencoder.decode(autoencoder.encode(randomStrings(3, 11)));
      expect(tf.memory().numTensors).toBe(before);
      const weights = autoencoder.getWeights();
      expect(() =>
        CategoricalAutoencoder.fromWeights({ ...weights, tensors: weights.tensors.slice(1) }),
      ).toThrow(/lack tensor encoder0.weight/);
      expect(() => CategoricalAutoencoder.fromWeights({ ...weights, scale: 0 })).toThrow(/scale/);
      expect(() => CategoricalAutoencoder.create({ ...config, classes: 1 })).toThrow(/classes/);
    } finally {
      autoencoder.dispose();
    }
  });
});
