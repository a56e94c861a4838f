/**
 * Molecule jobs (DESIGN.md §3): training a SELFIES flow prior on a library, and designing molecules by
 * RFM over stored priors with a chemistry reward. The prior is stored as a model of kind
 * "molecular-prior" (flow weights, vocabulary, length, training-data hash); design results keep the
 * molecules with their rewards and properties, and SVG depictions of the best.
 */
import { moleculeDesignConfigSchema, moleculePriorConfigSchema } from '../../server/jobs/moleculeConfig';
import type { StoredMolecularPrior } from '../../server/molecules/prior';
import { defineHandler, type RunContext } from './types';

const TOP_DEPICTIONS = 24;

async function librarySmiles(
  config: (typeof moleculePriorConfigSchema)['_output'],
  loadDataset: RunContext<unknown>['loadDataset'],
): Promise<string[]> {
  const library = config.library;
  if (library.kind === 'smiles') return library.smiles;
  if (library.kind === 'demo') {
    const { DEFAULT_DRUGS } = await import('../../server/preferences/data/drugs');
    return DEFAULT_DRUGS.map((drug) => drug.smiles);
  }
  const dataset = await loadDataset(library.datasetId);
  const { readAllMolecules, formatFromFileName } = await import('../../server/molecules/io');
  const { loadRDKit } = await import('../../server/molecules/rdkit');
  const format = formatFromFileName(dataset.filename) ?? 'smiles';
  const records = await readAllMolecules(await loadRDKit(), new Uint8Array(dataset.bytes), { format });
  return records.filter((record) => record.valid).map((record) => record.canonical ?? record.input);
}

/** Properties shown as library histograms (next to the samples'), and how many library molecules enter. */
const LIBRARY_PROPERTIES = ['qed', 'sa', 'logp', 'mw', 'tpsa'] as const;
const LIBRARY_PROPERTY_MOLECULES = 1000;

/**
 * Property distributions of a training library (up to 1,000 molecules, evenly spread over it), for the
 * dashboard's library statistics and its library-vs-samples histograms.
 */
async function libraryProperties(smiles: readonly string[]) {
  const { loadRDKit, withMolecule } = await import('../../server/molecules/rdkit');
  const { MoleculeContext } = await import('../../server/molecules/properties');
  const rdkit = await loadRDKit();
  const step = Math.max(1, smiles.length / LIBRARY_PROPERTY_MOLECULES);
  const chosen = Array.from({ length: Math.min(smiles.length, LIBRARY_PROPERTY_MOLECULES) }, (_, i) =>
    Math.floor(i * step),
  );
  const values = Object.fromEntries(LIBRARY_PROPERTIES.map((key) => [key, [] as number[]])) as Record<
    (typeof LIBRARY_PROPERTIES)[number],
    number[]
  >;
  for (const [position, index] of chosen.entries()) {
    if (position % 50 === 49) await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      const properties = withMolecule(rdkit, smiles[index], (mol) =>
        new MoleculeContext(rdkit, mol).properties(),
      );
      for (const key of LIBRARY_PROPERTIES) values[key].push(Math.round(properties[key] * 1e4) / 1e4);
    } catch {
      // the library was validated when it was encoded; a molecule RDKit now refuses is left out
    }
  }
  return { molecules: values.qed.length, of: smiles.length, values };
}

/** Properties and depictions of the best molecules, for the dashboard. */
async function describeMolecules(smiles: string[], rewards: number[]) {
  const { loadRDKit, withMolecule, depictSvg } = await import('../../server/molecules/rdkit');
  const { MoleculeContext } = await import('../../server/molecules/properties');
  const rdkit = await loadRDKit();
  const order = smiles.map((_, i) => i).sort((a, b) => rewards[b] - rewards[a]);
  const seen = new Set<string>();
  const rows: Record<string, unknown>[] = [];
  for (const i of order) {
    if (!smiles[i] || seen.has(smiles[i])) continue;
    seen.add(smiles[i]);
    try {
      const properties = withMolecule(rdkit, smiles[i], (mol) =>
        new MoleculeContext(rdkit, mol).properties(),
      );
      rows.push({
        smiles: smiles[i],
        reward: rewards[i],
        ...properties,
        svg: rows.length < TOP_DEPICTIONS ? depictSvg(rdkit, smiles[i], { width: 200, height: 150 }) : null,
      });
    } catch {
      // an unparsable sample is counted by the validity metric, not listed
    }
    if (rows.length >= 500) break;
  }
  return rows;
}

export const moleculePriorHandler = defineHandler({
  configSchema: moleculePriorConfigSchema,
  usesTensors: true,
  async run({ config, seed, reportProgress, log, loadDataset }) {
    const { trainMolecularPrior } = await import('../../server/molecules/prior');
    const { generationMetrics } = await import('../../server/molecules/metrics');
    const smiles = await librarySmiles(config, loadDataset);
    await log(`${smiles.length} molecules in the library`);
    // Latent priors train their autoencoder first: it takes the first 40 % of the progress bar.
    const latent = config.representation === 'latent';
    const flowStart = latent ? 0.4 : 0;
    const { prior, stored, library } = await trainMolecularPrior(
      smiles,
      {
        steps: config.steps,
        hidden: config.hidden,
        seed,
        representation: config.representation,
        autoencoder: {
          latent: config.latentDimension,
          steps: config.autoencoderSteps,
          onStep: (info) =>
            reportProgress({
              fraction: flowStart * (info.step / info.totalSteps),
              step: info.step,
              message: `autoencoder step ${info.step}/${info.totalSteps}`,
              etaSeconds: info.etaSeconds,
              metrics: { autoencoder_loss: info.loss },
            }),
        },
        onStep: (info) =>
          reportProgress({
            fraction: flowStart + (0.9 - flowStart) * (info.step / info.totalSteps),
            step: info.step,
            message: `training step ${info.step}/${info.totalSteps}`,
            etaSeconds: info.etaSeconds,
            metrics: { loss: info.loss },
          }),
      },
      { maxLength: config.maxLength },
    );
    try {
      if (library.skipped.length > 0) {
        await log(
          `${library.skipped.length} molecules skipped, e.g. ${library.skipped
            .slice(0, 3)
            .map((s) => `${s.smiles} (${s.reason})`)
            .join('; ')}`,
          'warn',
        );
      }
      await reportProgress({ fraction: 0.92, message: 'sampling and scoring' });
      const samples = prior.sample(config.samples, seed + 1);
      const metrics = await generationMetrics(samples, prior.trainingSmiles);
      return {
        metrics: {
          validity: metrics.validity,
          uniqueness: metrics.uniqueness,
          novelty: metrics.novelty ?? Number.NaN,
          int_div: metrics.int_div,
          filters: metrics.filters,
          qed_mean: metrics.properties.qed.mean,
          final_loss: stored.training.finalLoss,
          molecules: stored.training.molecules,
          ...(stored.autoencoder && {
            // Exact round trips of training molecules through the latent space.
            autoencoder_reconstruction: stored.autoencoder.training.reconstruction,
          }),
        },
        timings: {
          trainSeconds: stored.training.seconds,
          ...(stored.autoencoder && { autoencoderSeconds: stored.autoencoder.training.seconds }),
        },
        artifacts: {
          molecules: await describeMolecules(
            samples,
            samples.map(() => 0),
          ),
          generation: metrics,
          library: {
            molecules: stored.training.molecules,
            skipped: library.skipped.slice(0, 50),
            skippedCount: library.skipped.length,
            properties: await libraryProperties([...prior.trainingSmiles]),
          },
          space: {
            vocabulary: stored.symbols.length,
            length: stored.length,
            representation: prior.representation,
            dimension: prior.dimension,
          },
        },
        models: [
          {
            name: `SELFIES prior (${stored.training.molecules} molecules)`,
            kind: 'molecular-prior',
            weights: JSON.stringify(stored),
            metadata: {
              molecules: stored.training.molecules,
              dataHash: stored.training.dataHash,
              vocabulary: stored.symbols.length,
              length: stored.length,
              representation: prior.representation,
              metrics,
            },
          },
        ],
      };
    } finally {
      prior.dispose();
    }
  },
});

export const moleculeDesignHandler = defineHandler({
  configSchema: moleculeDesignConfigSchema,
  usesTensors: true,
  async run({ config, seed, reportProgress, loadModel }) {
    const { MolecularPrior } = await import('../../server/molecules/prior');
    const { designMolecules } = await import('../../server/molecules/design');
    const { compileMolecularReward } = await import('../../server/molecules/rewards');
    const priors: InstanceType<typeof MolecularPrior>[] = [];
    try {
      for (const id of config.priors) {
        const model = await loadModel(id);
        if (model.kind !== 'molecular-prior')
          throw new Error(`Model ${id} is a ${model.kind}, not a molecular prior`);
        priors.push(
          MolecularPrior.fromStored(JSON.parse(model.weights.toString('utf8')) as StoredMolecularPrior),
        );
      }
      const reward = config.reward ? await compileMolecularReward(config.reward) : undefined;
      try {
        const totalSteps = config.outerSteps * config.steps;
        const result = await designMolecules({
          priors,
          operator: config.operator,
          weights: config.weights,
          reward,
          rewardWeight: config.rewardWeight,
          outerSteps: config.outerSteps,
          sampleCount: config.surrogatePool ?? config.sampleCount,
          surrogate: config.surrogatePool ? { scored: config.sampleCount } : undefined,
          snapSamples: config.snapSamples,
          steps: config.steps,
          samples: config.samples,
          seed,
          onTrainStep: (k, info) =>
            reportProgress({
              fraction: 0.9 * (((k - 1) * config.steps + info.step) / totalSteps),
              step: info.step,
              message: `mirror step ${k}/${config.outerSteps}: training ${info.step}/${info.totalSteps}`,
              etaSeconds: info.etaSeconds,
              metrics: { loss: info.loss },
            }),
        });
        return {
          metrics: {
            reward_mean: result.rewardMean,
            reward_top10: result.rewardTop10,
            reward_calls: result.rewardCalls,
            validity: result.metrics.validity,
            uniqueness: result.metrics.uniqueness,
            int_div: result.metrics.int_div,
            qed_mean: result.metrics.properties.qed.mean,
          },
          timings: { designSeconds: result.seconds },
          artifacts: {
            molecules: await describeMolecules(result.smiles, result.rewards),
            generation: result.metrics,
            iterations: result.iterations,
          },
        };
      } finally {
        reward?.dispose();
      }
    } finally {
      for (const prior of priors) prior.dispose();
    }
  },
});
