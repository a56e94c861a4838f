/** The MLP velocity field and the conditional flow-matching path/loss (DESIGN.md §1). */
import { beforeAll, describe, expect, it } from 'vitest';
import { initTensorBackend, tf } from '../../server/engines/tensor';
import {
  ConditionalFlowMatcher,
  MlpVelocityField,
  flowMatchingLoss,
  type MlpVelocityFieldWeights,
  type VelocityField,
} from '../../server/engines/flows';

beforeAll(async () => {
  await initTensorBackend('wasm');
});

describe('MlpVelocityField', () => {
  it('counts its parameters: (d + 1 + 2K)·h + h + (L − 1)(h² + h) + h·d + d', () => {
    const field = MlpVelocityField.create({ dimension: 3, hidden: 10, layers: 2, timeFrequencies: 4 });
    const input = 3 + 1 + 2 * 4;
    expect(field.countParameters()).toBe(input * 10 + 10 + (10 * 10 + 10) + 10 * 3 + 3);
    field.dispose();
  });

  it('round-trips its weights through JSON exactly', () => {
    const field = MlpVelocityField.create({ dimension: 2, hidden: 16, layers: 2, activation: 'gelu' }, 3);
    const copy = MlpVelocityField.fromWeights(
      JSON.parse(JSON.stringify(field.getWeights())) as MlpVelocityFieldWeights,
    );
    const x = tf.tensor2d([
      [0.1, -0.3],
      [2, 1],
    ]);
    const t = tf.tensor1d([0.2, 0.9]);
    const a = field.predict(x, t);
    const b = copy.predict(x, t);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, t, a, b]);
    field.dispose();
    copy.dispose();
    expect(() => field.predict(tf.zeros<tf.Rank.R2>([1, 2]), 0)).toThrow(/dispose/);
  });

  it('rejects weights of the wrong shape with a clear error', () => {
    const weights = MlpVelocityField.create({ dimension: 2, hidden: 8, layers: 1 }).getWeights();
    weights.tensors[0].shape = [3, 3];
    expect(() => MlpVelocityField.fromWeights(weights)).toThrow(/dense0.weight/);
  });

  it('accepts t as a number, a scalar or one time per row', () => {
    const field = MlpVelocityField.create({ dimension: 2, hidden: 8, layers: 1 });
    const x = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const fromNumber = field.predict(x, 0.5).dataSync();
    expect(field.predict(x, tf.scalar(0.5)).dataSync()).toEqual(fromNumber);
    expect(field.predict(x, tf.tensor2d([[0.5], [0.5]])).dataSync()).toEqual(fromNumber);
    field.dispose();
  });
});

describe('conditional flow matching', () => {
  it('places x_t on the straight line with target x1 − x0', () => {
    const matcher = new ConditionalFlowMatcher();
    const x0 = tf.tensor2d([
      [0, 0],
      [1, 1],
    ]);
    const x1 = tf.tensor2d([
      [2, 4],
      [1, -1],
    ]);
    const { t, xt, ut } = matcher.sampleLocationAndConditionalFlow(x0, x1, tf.tensor1d([0.25, 0.5]));
    expect(Array.from(t.dataSync())).toEqual([0.25, 0.5]);
    expect(Array.from(xt.dataSync())).toEqual([0.5, 1, 1, 0]);
    expect(Array.from(ut.dataSync())).toEqual([2, 4, 0, -2]);
  });

  it('loss is the batch mean of the squared norm ‖v − (x1 − x0)‖²', () => {
    // A constant field v ≡ (1, 0): residuals (1−2, 0−4) and (1−0, 0+2) → squared norms 17 and 5 → 11.
    const constant: VelocityField = {
      dimension: 2,
      predict: (x) => tf.tidy(() => tf.add(tf.mul(x, 0), tf.tensor2d([[1, 0]]))),
    };
    const x0 = tf.tensor2d([
      [0, 0],
      [1, 1],
    ]);
    const x1 = tf.tensor2d([
      [2, 4],
      [1, -1],
    ]);
    expect(flowMatchingLoss(constant, x0, x1, 0.3).dataSync()[0]).toBeCloseTo(11, 5);
  });
});
