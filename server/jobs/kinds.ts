/**
 * The job kinds a user can start, with their config schemas. Kept free of tensor code so the API
 * validates a run request completely before anything is queued; workers validate again.
 */
import { z } from 'zod';
import { conformerConfigSchema } from './conformerConfig';
import { flow2dConfigSchema } from './flow2dConfig';
import { moleculeDesignConfigSchema, moleculePriorConfigSchema } from './moleculeConfig';
import { noopConfigSchema } from './noopConfig';
import { perturbationFitConfigSchema } from './perturbationConfig';
import { rfmConfigSchema } from './rfmConfig';

export const runRequestSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('flow2d'), config: flow2dConfigSchema.default(flow2dConfigSchema.parse({})) }),
  z.object({ kind: z.literal('rfm'), config: rfmConfigSchema }),
  z.object({
    kind: z.literal('molecule-prior'),
    config: moleculePriorConfigSchema.default(moleculePriorConfigSchema.parse({})),
  }),
  z.object({ kind: z.literal('molecule-design'), config: moleculeDesignConfigSchema }),
  z.object({ kind: z.literal('perturbation-fit'), config: perturbationFitConfigSchema }),
  z.object({ kind: z.literal('conformers'), config: conformerConfigSchema }),
  z.object({ kind: z.literal('noop'), config: noopConfigSchema.default(noopConfigSchema.parse({})) }),
]);

export type RunRequest = z.infer<typeof runRequestSchema>;
export type RunKind = RunRequest['kind'];
