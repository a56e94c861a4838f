import { z } from 'zod';
import { circuitSchema } from '../engines/rfm/circuitSchema';

/** Config of an RFM circuit run: the circuit, the inner solver's budget, what to keep for display. */
export const rfmConfigSchema = z
  .object({
    circuit: circuitSchema,
    inner: z
      .object({
        sampleCount: z.number().int().min(100).max(100_000).default(4000),
        steps: z.number().int().min(10).max(50_000).default(1500),
        warmSteps: z.number().int().min(10).max(50_000).default(600),
        batchSize: z.number().int().min(8).max(4096).default(256),
        learningRate: z.number().positive().max(1).default(2e-3),
        hidden: z.number().int().min(8).max(1024).default(64),
        layers: z.number().int().min(1).max(8).default(3),
        odeSteps: z.number().int().min(2).max(500).default(30),
      })
      .strict()
      .default({
        sampleCount: 4000,
        steps: 1500,
        warmSteps: 600,
        batchSize: 256,
        learningRate: 2e-3,
        hidden: 64,
        layers: 3,
        odeSteps: 30,
      }),
    /** Grid cells per axis for densities and exact targets (2-D circuits); at most 50 × 50. */
    gridSize: z.number().int().min(8).max(50).default(30),
    /** Samples kept per node and per iteration for display and CSV export. */
    displaySamples: z.number().int().min(10).max(10_000).default(800),
  })
  .strict();

export type RfmConfig = z.infer<typeof rfmConfigSchema>;
