import { z } from 'zod';

/** Config of the trivial job used for queue benchmarks and tests of the job machinery. */
export const noopConfigSchema = z
  .object({
    /** Total time to spend, in small slices with a progress report after each. */
    durationMs: z.number().int().min(0).max(600_000).default(0),
    /** When set, the job fails with this message after its duration. */
    failWith: z.string().max(500).optional(),
  })
  .strict();
