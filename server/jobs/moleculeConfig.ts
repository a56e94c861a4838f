/**
 * Configs of the molecule jobs (DESIGN.md §3), validated by the API before anything is queued and by
 * the worker again. Free of tensor code.
 */
import { z } from 'zod';
import { molecularRewardSpecSchema } from '../molecules/rewards';

/** Where a prior's training molecules come from. */
export const moleculeLibrarySchema = z.discriminatedUnion('kind', [
  /** The bundled demo library: well-known drugs (server/preferences/data/drugs.ts). */
  z.object({ kind: z.literal('demo') }),
  /** An uploaded file of the project: SMILES lines, CSV/TSV with a SMILES column, or SDF (gz allowed). */
  z.object({ kind: z.literal('dataset'), datasetId: z.uuid('datasetId must be a UUID') }),
  /** SMILES given inline (small libraries, tests). */
  z.object({ kind: z.literal('smiles'), smiles: z.array(z.string().min(1).max(2000)).min(1).max(20_000) }),
]);

export const moleculePriorConfigSchema = z.object({
  library: moleculeLibrarySchema.default({ kind: 'demo' }),
  steps: z.number().int().min(10).max(50_000).default(1500),
  hidden: z.number().int().min(16).max(2048).default(256),
  maxLength: z.number().int().min(5).max(200).default(80),
  /**
   * 'latent': the flow is trained in the latent space of an autoencoder trained first on the library
   * (server/molecules/prior.ts); 'one-hot': on the relaxed one-hot SELFIES.
   */
  representation: z.enum(['one-hot', 'latent']).default('one-hot'),
  autoencoderSteps: z.number().int().min(10).max(50_000).default(2000),
  latentDimension: z.number().int().min(2).max(512).default(64),
  /** Molecules sampled for the prior's metrics. */
  samples: z.number().int().min(10).max(20_000).default(500),
});
export type MoleculePriorConfig = z.infer<typeof moleculePriorConfigSchema>;

export const moleculeDesignConfigSchema = z
  .object({
    /** Stored molecular priors (models of kind "molecular-prior" in the project). */
    priors: z.array(z.uuid('each prior must be a model id')).min(1).max(4),
    operator: z.enum(['intersection', 'union']).default('intersection'),
    weights: z.array(z.number().positive()).optional(),
    reward: molecularRewardSpecSchema.optional(),
    rewardWeight: z.number().positive().max(1000).default(1),
    outerSteps: z.number().int().min(1).max(10).default(1),
    sampleCount: z.number().int().min(16).max(50_000).default(1000),
    steps: z.number().int().min(1).max(20_000).default(300),
    samples: z.number().int().min(1).max(20_000).default(500),
    /** Train each mirror step on its samples snapped to their one-hot vertex (design.ts). */
    /** Default: on for latent priors, off for one-hot ones (design.ts). */
    snapSamples: z.boolean().optional(),
    /**
     * Molecules drawn per mirror step when a reward surrogate scores all but `sampleCount` of them (the
     * reward calls stay `sampleCount` per step); absent: no surrogate.
     */
    surrogatePool: z.number().int().min(16).max(50_000).optional(),
  })
  .refine((config) => !config.weights || config.weights.length === config.priors.length, {
    message: 'one weight per prior',
    path: ['weights'],
  })
  .refine((config) => config.surrogatePool === undefined || config.surrogatePool > config.sampleCount, {
    message: 'the surrogate pool must be larger than the molecules scored per step',
    path: ['surrogatePool'],
  });
export type MoleculeDesignConfig = z.infer<typeof moleculeDesignConfigSchema>;
