/**
 * The RFM circuit job: evaluates a generative circuit bottom-up; every node's output flow is stored
 * as a model (reusable as a leaf of later circuits), with per-node, per-iteration densities, samples
 * and distances to the exact target for the studio.
 *
 * The nodes of one circuit run in this one job rather than one job each: a parent waiting on child
 * jobs would hold a worker slot, and with the in-process worker's single slot it would wait forever.
 */
import type { MlpVelocityFieldWeights } from '../../server/engines/flows';
import { rfmConfigSchema } from '../../server/jobs/rfmConfig';
import { defineHandler } from './types';

export const rfmHandler = defineHandler({
  configSchema: rfmConfigSchema,
  usesTensors: true,
  async run({ config, seed, reportProgress, log, loadModel }) {
    const { runRfmCircuit } = await import('../../server/jobs/rfm');
    const result = await runRfmCircuit(config, {
      seed,
      onProgress: (p) =>
        reportProgress({
          fraction: p.fraction,
          message: p.message,
          etaSeconds: p.etaSeconds,
          metrics: p.loss === undefined ? undefined : { loss: p.loss },
        }),
      loadModel: async (modelId) => {
        const model = await loadModel(modelId);
        if (model.kind !== 'flow' && model.kind !== 'flow2d') {
          throw new Error(`Model ${modelId} is a ${model.kind}, not a flow`);
        }
        return JSON.parse(model.weights.toString('utf8')) as MlpVelocityFieldWeights;
      },
    });
    for (const node of result.nodes) {
      if (node.tv !== undefined) {
        await log(
          `${node.label}: TV to exact ${node.tv.toFixed(3)} (best baseline ${node.tvBaseline?.toFixed(3)})`,
        );
      }
    }
    return {
      metrics: result.metrics,
      timings: { circuitSeconds: result.seconds },
      artifacts: { circuit: config.circuit, grid: result.grid ?? null, nodes: result.nodes },
      models: result.weights.map(({ path, label, weights }) => ({
        name: `node ${path}`,
        kind: 'flow',
        weights: JSON.stringify(weights),
        metadata: { label, path, dimension: weights.config.dimension },
      })),
    };
  },
});
