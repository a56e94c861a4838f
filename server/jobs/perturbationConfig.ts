/** Config of the perturbation job (DESIGN.md §5), validated by the API and again by the worker. */
import { z } from 'zod';

export const perturbationFitConfigSchema = z.object({
  /** An uploaded screen of the project: .h5ad, or a cells × genes .csv with a label column. */
  datasetId: z.uuid('datasetId must be a UUID'),
  /** The obs column (h5ad) or CSV column holding the perturbation labels. */
  perturbationKey: z.string().trim().min(1).max(200).default('perturbation'),
  control: z.string().trim().min(1).max(200).default('control'),
  input: z.enum(['auto', 'counts', 'lognorm']).default('auto'),
  steps: z.number().int().min(10).max(50_000).default(2000),
  holdOutCombinations: z.number().int().min(0).max(10_000).optional(),
  maxGenes: z.number().int().min(2).max(5000).optional(),
  /** Counts only: LCD on the latents of the ZIP measurement model (default) or on log1p of normalised counts. */
  measurement: z.enum(['zip', 'none']).default('zip'),
  /** Single knockouts to leave out one at a time (one more model each), scored against the baselines. */
  holdOutSingles: z.array(z.string().trim().min(1).max(200)).max(50).default([]),
  /** Training steps of each leave-one-out model (default: `steps`). */
  holdOutSingleSteps: z.number().int().min(10).max(50_000).optional(),
});
export type PerturbationFitConfig = z.infer<typeof perturbationFitConfigSchema>;
