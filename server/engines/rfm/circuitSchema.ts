/**
 * The JSON form of a generative circuit (DESIGN.md §2), validated with zod. Free of tensor code, so
 * the API and the browser validate circuits with the same schema the engine evaluates.
 */
import { z } from 'zod';
import { toyDensityNames } from '../flows/toy2d';
import type { RfmOperator } from './operators';
import { rewardSpecSchema } from './rewards';

const componentSchema = z.object({
  weight: z.number().positive().default(1),
  mean: z.array(z.number()).min(1).max(1024),
  sd: z.number().positive(),
});

export const priorSourceSchema = z.discriminatedUnion('kind', [
  /** A Gaussian mixture, as a closed-form flow (exact density). */
  z.object({ kind: z.literal('gaussian-mixture'), components: z.array(componentSchema).min(1).max(64) }),
  /** A flow trained first on samples of a 2-D toy density. */
  z.object({
    kind: z.literal('toy'),
    density: z.enum(toyDensityNames),
    steps: z.number().int().min(10).max(20_000).default(1500),
  }),
  /** A stored flow (a trained model or a circuit node's output). */
  z.object({ kind: z.literal('model'), modelId: z.uuid() }),
]);
export type PriorSource = z.infer<typeof priorSourceSchema>;

export interface CircuitLeaf {
  type: 'prior';
  name?: string;
  source: PriorSource;
}
export interface CircuitNode {
  type: 'operator';
  name?: string;
  operator: RfmOperator;
  /** α_i per child (default 1 each). */
  weights?: number[];
  reward?: z.infer<typeof rewardSpecSchema>;
  outerSteps?: number;
  gamma?: number;
  /** Inner solver (default reward-weighted; Adjoint Matching for one prior with a differentiable reward). */
  solver?: 'reward-weighted' | 'adjoint-matching';
  children: Circuit[];
}
export type Circuit = CircuitLeaf | CircuitNode;

export const circuitSchema: z.ZodType<Circuit> = z.lazy(() =>
  z.discriminatedUnion('type', [
    z.object({ type: z.literal('prior'), name: z.string().max(100).optional(), source: priorSourceSchema }),
    z
      .object({
        type: z.literal('operator'),
        name: z.string().max(100).optional(),
        operator: z.enum(['intersection', 'union', 'interpolation']),
        weights: z.array(z.number().positive()).optional(),
        reward: rewardSpecSchema.optional(),
        outerSteps: z.number().int().min(1).max(20).optional(),
        gamma: z.number().positive().optional(),
        solver: z.enum(['reward-weighted', 'adjoint-matching']).optional(),
        children: z.array(circuitSchema).min(1).max(16),
      })
      .refine((node) => !node.weights || node.weights.length === node.children.length, {
        message: 'an operator needs one weight per child',
        path: ['weights'],
      }),
  ]),
);

/**
 * Outer mirror-descent steps when a node does not say: one step with γ = 1/A is exact for the
 * intersection (with or without reward) and for a reward-free union started from the children's
 * mixture; a union with a reward is a fixed point that takes several steps, and so is interpolation.
 */
export function defaultOuterSteps(node: CircuitNode): number {
  if (node.outerSteps) return node.outerSteps;
  if (node.operator === 'interpolation') return 4; // reweighting a broad start toward the barycenter
  return node.operator === 'union' && node.reward ? 3 : 1;
}
