/**
 * The perturbation job (DESIGN.md §5): reads an uploaded screen, preprocesses it, trains LCD (for
 * predictions and for CLIPR), scores held-out combinations against the control and additive baselines,
 * and computes CLIPR's causal matrix. The fitted model is stored (kind "perturbation-lcd") for later
 * predictions; the dashboard gets the metrics, loss curves, the matrix with its gene modules, and the
 * held-out conditions' predicted / observed / control cells for the prediction explorer.
 */
import { perturbationFitConfigSchema } from '../../server/jobs/perturbationConfig';
import { defineHandler } from './types';

export const perturbationFitHandler = defineHandler({
  configSchema: perturbationFitConfigSchema,
  usesTensors: true,
  async run({ config, seed, reportProgress, log, loadDataset, checkpoints }) {
    const { readH5ad } = await import('../../server/perturbation/h5ad');
    const { readCsvScreen } = await import('../../server/perturbation/csv');
    const { fitPerturbationModel, cliprMatrix } = await import('../../server/perturbation/fit');
    const { geneModules } = await import('../../server/engines/clipr/modules');
    const dataset = await loadDataset(config.datasetId);
    const bytes = new Uint8Array(dataset.bytes);
    const name = dataset.filename.toLowerCase();
    await reportProgress({ fraction: 0.01, message: `reading ${dataset.filename}` });
    const screen = name.endsWith('.h5ad')
      ? await readH5ad(bytes, { obsColumns: [config.perturbationKey], sourceName: dataset.filename })
      : name.endsWith('.csv') || name.endsWith('.csv.gz')
        ? await readCsvScreen(bytes, {
            orientation: 'cells-by-genes',
            obsColumns: [config.perturbationKey],
            indexColumn: 0,
            sourceName: dataset.filename,
          })
        : (() => {
            throw new Error(`${dataset.filename}: a screen must be an .h5ad or a cells × genes .csv`);
          })();
    const { model, summary, distributions } = await fitPerturbationModel(screen, {
      perturbationKey: config.perturbationKey,
      control: config.control,
      input: config.input,
      steps: config.steps,
      seed,
      holdOutCombinations: config.holdOutCombinations,
      maxGenes: config.maxGenes,
      holdOutSingles: config.holdOutSingles,
      measurement: config.measurement,
      checkpoints,
      holdOutSingleSteps: config.holdOutSingleSteps,
      onProgress: async (message, detail) => {
        if (detail) {
          await reportProgress({
            fraction: detail.fraction,
            step: detail.step,
            message,
            etaSeconds: detail.etaSeconds,
            metrics: { loss: detail.loss },
          });
        } else {
          await log(message);
        }
      },
    });
    await reportProgress({ fraction: 0.93, message: 'CLIPR: fixed points and the causal matrix' });
    const clipr = cliprMatrix(model);
    // Gene modules (DESIGN.md §5): modularity clustering of |A| + |Aᵀ|, genes by name, largest module first.
    const clustered = geneModules(clipr.effects);
    const modules = {
      assignment: clustered.assignment,
      modules: clustered.modules.map((members) => members.map((j) => clipr.genes[j])),
      modularity: Math.round(clustered.modularity * 1e6) / 1e6,
    };
    const mean = summary.metrics.mean;
    const singles = summary.metrics.held_out_singles.mean;
    const metric = (value: number | null | undefined) => value ?? Number.NaN;
    const metrics = {
      cells: summary.cells,
      genes: summary.genes,
      held_out: summary.held_out.length,
      energy_distance_lcd: metric(mean?.lcd.all.energy_distance),
      energy_distance_additive: metric(mean?.additive.all.energy_distance),
      energy_distance_control: metric(mean?.control.all.energy_distance),
      rmse_mean_lcd: metric(mean?.lcd.all.rmse_mean),
      rmse_mean_additive: metric(mean?.additive.all.rmse_mean),
      held_out_singles: summary.metrics.held_out_singles.per_gene.length,
      energy_distance_lcd_singles: metric(singles?.lcd.all.energy_distance),
      energy_distance_mean_shift_singles: metric(singles?.mean_single_shift.all.energy_distance),
    };
    return {
      // A metric that does not apply (no combinations held out, none left out) is left out, not NaN.
      metrics: Object.fromEntries(Object.entries(metrics).filter(([, value]) => Number.isFinite(value))),
      timings: { trainSeconds: metric(summary.train_seconds) },
      artifacts: {
        perturbation: {
          summary,
          causal: { genes: clipr.genes, effects: clipr.effects, modules },
        },
        // The prediction explorer's cells (predicted, observed, control) per held-out condition: its own
        // artifact, so the summary stays small.
        perturbationDistributions: distributions,
      },
      models: [
        {
          name: `LCD on ${dataset.name}`,
          kind: 'perturbation-lcd',
          weights: JSON.stringify(model),
          metadata: { genes: model.genes.length, perturbedGenes: model.perturbed_genes.length },
        },
      ],
    };
  },
});
