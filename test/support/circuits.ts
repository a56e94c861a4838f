/** Small circuits over closed-form Gaussian-mixture priors, shared by the RFM tests. */
import type { Circuit } from '../../server/engines/rfm/circuitSchema';

export const blob = (mean: number[], sd = 0.6) => ({ weight: 1, mean, sd });

/** AND(OR(p1, p2), p3) with a linear reward: two levels deep, every target exact. */
export const nestedCircuit: Circuit = {
  type: 'operator',
  operator: 'intersection',
  reward: { kind: 'linear', weights: [0.5, 0], offset: 0 },
  children: [
    {
      type: 'operator',
      operator: 'union',
      children: [
        {
          type: 'prior',
          name: 'p1',
          source: { kind: 'gaussian-mixture', components: [blob([-1.5, 0]), blob([1, 0])] },
        },
        {
          type: 'prior',
          name: 'p2',
          source: { kind: 'gaussian-mixture', components: [blob([1, 0]), blob([1, 2])] },
        },
      ],
    },
    { type: 'prior', name: 'p3', source: { kind: 'gaussian-mixture', components: [blob([0.5, 0.5], 1.2)] } },
  ],
};

/** A small budget: these tests check the plumbing and a loose distance, the engine tests the accuracy. */
export const quickInner = {
  sampleCount: 1500,
  steps: 400,
  warmSteps: 200,
  batchSize: 256,
  learningRate: 3e-3,
  hidden: 32,
  layers: 2,
  odeSteps: 16,
};
