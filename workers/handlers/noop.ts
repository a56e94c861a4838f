/**
 * A trivial job for queue throughput benchmarks and tests of the job machinery
 * (cancellation, failure, crash recovery) without any compute.
 */
import { z } from 'zod';
import { defineHandler } from './types';

export const noopConfigSchema = z
  .object({
    /** Total time to spend, in small slices with a progress report after each. */
    durationMs: z.number().int().min(0).max(600_000).default(0),
    /** When set, the job fails with this message after its duration. */
    failWith: z.string().max(500).optional(),
  })
  .strict();

export const noopHandler = defineHandler({
  configSchema: noopConfigSchema,
  usesTensors: false,
  async run({ config, reportProgress }) {
    const slices = Math.max(1, Math.ceil(config.durationMs / 50));
    for (let i = 1; i <= slices && config.durationMs > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, config.durationMs / slices));
      await reportProgress({ fraction: i / slices, step: i, totalSteps: slices });
    }
    if (config.failWith) throw new Error(config.failWith);
    return { metrics: { slices }, timings: {}, artifacts: { done: true } };
  },
});
