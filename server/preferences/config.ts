/**
 * What a preference campaign is made of (DESIGN.md §6, issue 6 item 4): the inputs of its creation, checked
 * by zod, and the error the domain logic reports to its callers.
 */
import { z } from 'zod';

/** Most molecules in a pasted pool: the features of each cost ≈ 20 ms of RDKit at creation. */
export const MAX_POOL_MOLECULES = 500;
/** Most characters of pasted SMILES text. */
export const MAX_POOL_TEXT = 200_000;

export const preferenceCriteria = ['aopt', 'dopt', 'random'] as const;

const common = {
  name: z.string().trim().min(1, 'name must not be empty').max(200),
  K: z.number().int().min(2, 'K must be at least 2').max(6, 'K must be at most 6').default(3),
  criterion: z.enum(preferenceCriteria).default('aopt'),
  budget: z
    .number()
    .int()
    .min(1, 'budget must be at least 1')
    .max(500, 'budget must be at most 500')
    .default(20),
  lambda: z.number().positive('lambda must be positive').max(1000).default(1),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
  /** Email of the member asked to answer (an editor or owner of the project). */
  assignee: z.email('assignee must be an email address').optional(),
};

export const createCampaignSchema = z.discriminatedUnion('domain', [
  z.object({
    domain: z.literal('tokens'),
    ...common,
    horizon: z.number().int().min(1).max(8).default(4),
    vocab: z.number().int().min(2).max(26).default(8),
    dim: z.number().int().min(1).max(32).default(8),
  }),
  z.object({
    domain: z.literal('molecules'),
    ...common,
    /**
     * One molecule a line: a SMILES, then optionally its name (after whitespace or a comma); empty lines
     * and lines starting with # are skipped. Absent or blank: the default list of well-known drugs.
     */
    smiles: z.string().max(MAX_POOL_TEXT, `at most ${MAX_POOL_TEXT} characters of SMILES`).optional(),
    /**
     * Pool over samples of a molecular prior (DESIGN.md §6 pool mode, issue 6 item 3b): the molecules of a
     * finished molecule-prior (or molecule-design) run of the same project. Excludes `smiles`.
     */
    sourceRunId: z.uuid('sourceRunId must be a run id').optional(),
    /**
     * Assembly mode (issue 6 item 3a): options are molecules assembled over `horizon` steps from fragments
     * of the library above (pasted, run or default), `vocab` choices per step, designed on that MDP.
     * Absent: pool mode (the options are the library's molecules).
     */
    assembly: z
      .object({
        horizon: z
          .number()
          .int()
          .min(1, 'horizon must be at least 1')
          .max(4, 'horizon must be at most 4')
          .default(3),
        vocab: z
          .number()
          .int()
          .min(2, 'vocab must be at least 2')
          .max(8, 'vocab must be at most 8')
          .default(4),
      })
      .optional(),
  }),
]);
export type CreateCampaignInput = z.infer<typeof createCampaignSchema>;

export type PreferenceErrorCode = 'BAD_REQUEST' | 'NOT_FOUND' | 'CONFLICT';

/** A refusal with the tRPC code the API answers it with. */
export class PreferenceError extends Error {
  constructor(
    readonly code: PreferenceErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PreferenceError';
  }
}
