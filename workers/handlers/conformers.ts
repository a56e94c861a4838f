/**
 * The conformer job (DESIGN.md §4): an MMFF94 ensemble of one molecule (OpenChemLib embeddings and random
 * torsions, each minimised, deduplicated by heavy-atom RMSD; server/molecules/conformers/ensemble.ts), with
 * its energy summary, diversity, and the conformers as an SD file for the 3-D viewer and the download.
 */
import { conformerConfigSchema } from '../../server/jobs/conformerConfig';
import { defineHandler } from './types';

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

export const conformerHandler = defineHandler({
  configSchema: conformerConfigSchema,
  // The flow method trains and samples tfjs flows (the runner then sets up the configured backend).
  usesTensors: true,
  async run({ config, seed, reportProgress, loadDataset, log }) {
    const { loadRDKit, parseSmiles } = await import('../../server/molecules/rdkit');
    const { conformerEnsemble, describeEnsemble, xtbSinglePoints } =
      await import('../../server/molecules/conformers/generate');

    const parsed = parseSmiles(await loadRDKit(), config.smiles);
    if (!parsed.valid) throw new Error(`"${config.smiles}" is not a valid SMILES: ${parsed.error}`);
    await reportProgress({ fraction: 0.02, message: `embedding ${parsed.canonical}` });
    if (config.priorDatasetId && config.method !== 'flow')
      throw new Error('a second prior (an SD file) is merged by the flow method only');
    const priorSdf = config.priorDatasetId
      ? (await loadDataset(config.priorDatasetId)).bytes.toString('utf8')
      : undefined;
    const ensemble = await conformerEnsemble(config.smiles, {
      method: config.method,
      n: config.n,
      seed,
      rmsdThreshold: config.rmsdThreshold,
      priorSdf,
      onProgress: (message, fraction) => reportProgress({ fraction: 0.05 + 0.9 * fraction, message }),
    });
    if (ensemble.flow) {
      const report = ensemble.flow;
      await log(
        `torsional flow: ${report.torsions} torsions, prior on ${report.baseConformers} conformers` +
          `${report.merged ? ' merged with the uploaded prior' : ''}, ${report.steering.length} steering ` +
          `steps; ${report.flowConformersKept} of ${report.flowCandidates} flow conformers kept`,
      );
    }
    const conformers = ensemble.conformers;
    if (conformers.length === 0) throw new Error('no conformer survived minimisation');
    // GFN2-xTB single points of the MMFF94 minima (DESIGN.md §4's optional energy), one process each.
    const xtb =
      config.energy === 'xtb'
        ? await xtbSinglePoints(ensemble, {
            timeoutMs: 60_000,
            onEach: (index, total) =>
              reportProgress({
                fraction: 0.95 + (0.05 * index) / total,
                message: `GFN2-xTB single point ${index + 1}/${total}`,
              }),
          })
        : undefined;
    const xtbMin = xtb ? Math.min(...xtb) : 0;
    const { summary, distinct, meanPairwiseRmsd, sdf } = describeEnsemble(ensemble, {
      title: parsed.canonical,
      rmsdThreshold: config.rmsdThreshold,
      xtb,
    });
    return {
      metrics: {
        conformers: conformers.length,
        min_energy: round4(summary.min),
        mean_energy: round4(summary.mean),
        boltzmann_energy: round4(summary.boltzmann),
        distinct,
        mean_pairwise_rmsd: round4(meanPairwiseRmsd),
        rotatable_bonds: ensemble.rotatableBonds.length,
        ...(ensemble.flow
          ? {
              flow_conformers: ensemble.flow.flowConformersKept,
              flow_candidate_mean_energy: round4(ensemble.flow.flowCandidateMeanEnergy),
            }
          : {}),
        ...(xtb
          ? {
              xtb_lowest_conformer: xtb.indexOf(xtbMin) + 1,
              xtb_range: round4(Math.max(...xtb) - xtbMin),
            }
          : {}),
      },
      timings: { seconds: round4(ensemble.seconds) },
      artifacts: {
        conformers: {
          smiles: parsed.canonical,
          energyUnit: 'kcal/mol (MMFF94)',
          table: conformers.map((conformer, index) => ({
            index: index + 1,
            energy: round4(conformer.energy),
            relative: round4(conformer.energy - summary.min),
            origin: conformer.origin,
            converged: conformer.converged,
            ...(xtb ? { xtbRelative: round4(xtb[index] - xtbMin) } : {}),
          })),
          candidates: ensemble.candidates,
          failedMinimisations: ensemble.failedMinimisations,
          stereoChanges: ensemble.stereoChanges,
          sdf,
        },
      },
    };
  },
});
