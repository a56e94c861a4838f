/**
 * The 2-D flow-matching job: trains a flow on a toy density, samples it, evaluates its density
 * on a grid, and returns samples, loss curve, density grid and weights for the dashboard.
 */
import { flow2dConfigSchema } from '../../server/jobs/flow2dConfig';
import { defineHandler } from './types';

export const flow2dHandler = defineHandler({
  configSchema: flow2dConfigSchema,
  usesTensors: true,
  async run({ config, seed, reportProgress, log }) {
    // Loaded on first use: the tensor engine is heavy and only tensor jobs need it.
    const { runFlow2d } = await import('../../server/jobs/flow2d');
    await log(`Training a flow on "${config.density}" for ${config.steps} steps`);
    const result = await runFlow2d(
      { ...config, seed },
      {
        onProgress: (p) =>
          reportProgress({
            fraction: p.step / p.totalSteps,
            step: p.step,
            totalSteps: p.totalSteps,
            etaSeconds: p.etaSeconds,
            message: p.phase ?? 'Training',
            metrics: { loss: p.loss },
          }),
      },
    );
    await log(`Final loss ${result.metrics.finalLoss.toFixed(4)}`);
    const { samples, lossCurve, density, weights, metrics } = result;
    return {
      metrics: {
        finalLoss: metrics.finalLoss,
        stepsPerSecond: metrics.stepsPerSecond,
        ...(metrics.meanLogLikelihood === undefined ? {} : { meanLogLikelihood: metrics.meanLogLikelihood }),
      },
      timings: {
        trainSeconds: metrics.trainSeconds,
        sampleSeconds: metrics.sampleSeconds,
        densitySeconds: metrics.densitySeconds,
      },
      artifacts: { samples, lossCurve, density },
      models: [{ name: 'flow', kind: 'flow2d', weights: JSON.stringify(weights), metadata: { config } }],
    };
  },
});
