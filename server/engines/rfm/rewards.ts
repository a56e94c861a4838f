/**
 * Rewards f(x) for RFM (DESIGN.md §2), declared as JSON so circuits can carry them. Each returns one
 * value per row of an n×d point array.
 */
import { z } from 'zod';

export type Reward = (points: Float32Array, dimension: number) => Float64Array;

export const rewardSpecSchema = z.discriminatedUnion('kind', [
  /** f(x) = w·x + b */
  z.object({ kind: z.literal('linear'), weights: z.array(z.number()).min(1), offset: z.number().default(0) }),
  /** f(x) = −strength·‖x − c‖² / 2: pulls mass toward c. */
  z.object({
    kind: z.literal('radial'),
    center: z.array(z.number()).min(1),
    strength: z.number().positive(),
  }),
  /** f(x) = inside for x in the box [min, max], outside elsewhere. */
  z.object({
    kind: z.literal('region'),
    min: z.array(z.number()).min(1),
    max: z.array(z.number()).min(1),
    inside: z.number().default(1),
    outside: z.number().default(0),
  }),
]);
export type RewardSpec = z.infer<typeof rewardSpecSchema>;

export function makeReward(spec: RewardSpec): Reward {
  return (points, dimension) => {
    const n = points.length / dimension;
    const out = new Float64Array(n);
    const vector = spec.kind === 'linear' ? spec.weights : spec.kind === 'radial' ? spec.center : spec.min;
    if (vector.length !== dimension) {
      throw new Error(`the ${spec.kind} reward has ${vector.length} coordinates, the points ${dimension}`);
    }
    for (let i = 0; i < n; i++) {
      const x = points.subarray(i * dimension, (i + 1) * dimension);
      if (spec.kind === 'linear') {
        out[i] = spec.offset + x.reduce((sum, xj, j) => sum + spec.weights[j] * xj, 0);
      } else if (spec.kind === 'radial') {
        out[i] = (-spec.strength / 2) * x.reduce((sum, xj, j) => sum + (xj - spec.center[j]) ** 2, 0);
      } else {
        const inside = x.every((xj, j) => xj >= spec.min[j] && xj <= spec.max[j]);
        out[i] = inside ? spec.inside : spec.outside;
      }
    }
    return out;
  };
}
