/**
 * A trivial job for queue throughput benchmarks and tests of the job machinery
 * (cancellation, failure, crash recovery) without any compute.
 */
import { noopConfigSchema } from '../../server/jobs/noopConfig';
import { defineHandler } from './types';

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
