import { z } from 'zod';
import { toyDensityNames } from '../engines/flows/toy2d';

export { toyDensityNames };

/** Config of the 2-D flow-matching job; unknown keys are rejected so typos don't pass silently. */
export const flow2dConfigSchema = z
  .object({
    density: z.enum(toyDensityNames).default('moons'),
    steps: z.number().int().min(1).max(100_000).default(1500),
    batchSize: z.number().int().min(8).max(4096).default(256),
    hidden: z.number().int().min(8).max(1024).default(128),
    layers: z.number().int().min(1).max(8).default(3),
    learningRate: z.number().positive().max(1).default(2e-3),
    sampleCount: z.number().int().min(10).max(100_000).default(1000),
    solver: z.enum(['euler', 'heun', 'rk4']).default('rk4'),
    odeSteps: z.number().int().min(2).max(1000).default(50),
    gridSize: z.number().int().min(8).max(200).default(48),
    seed: z.number().int().default(0),
  })
  .strict();

export type Flow2dConfig = z.infer<typeof flow2dConfigSchema>;
