/**
 * Perturbation-screen commands (DESIGN.md §5):
 *   tributary perturb synth --genes D --graph er|sf [--reversible|--nonlinear] --seed S --out FILE.h5ad
 *                           [--truth FILE.csv] [--cells N] [--doubles N]
 *     a synthetic screen with ground truth, written as .h5ad (obs column `perturbation`: control, G3,
 *     G3+G7) and, with --truth, the true matrix as CSV (header of gene names; row i, column j: the effect
 *     of gene i on gene j).
 *   tributary perturb fit --data FILE.h5ad|FILE.csv --perturbation-key KEY --control LABEL --out DIR
 *                         [--counts|--lognorm] [--steps N] [--seed S] [--holdout-combinations K]
 *     reads and preprocesses a screen, holds out combinations, trains LCD (twice: the `plain`
 *     parametrisation for predictions, the `gaussian` one for CLIPR, see server/engines/lcd/model.ts) and
 *     writes DIR/model.json and DIR/summary.json (held-out metrics against the control and additive
 *     baselines).
 *   tributary perturb predict --model DIR --perturbations "A+B,C+D" [--cells N] [--seed S] --out FILE.csv
 *   tributary perturb clipr --model DIR --out FILE.csv
 *   tributary bench perturbation [--quick]
 *     reader throughput, CLIPR on the synthetic suite, LCD on held-out doubles, LCD steps/s.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify/sync';
import { runCliprSuite, runComboSuite, runLcdSpeed } from '../bench/perturbation';
import { runReaderBench } from '../bench/perturbationReaders';
import { LcdModel, sampleLcd } from '../server/engines/lcd';
import { initTensorBackend } from '../server/engines/tensor';
import { readCsvScreen } from '../server/perturbation/csv';
import {
  cliprMatrix,
  fitPerturbationModel,
  latentsToObserved,
  type PerturbModelFile,
} from '../server/perturbation/fit';
import { readH5ad, writeH5ad } from '../server/perturbation/h5ad';
import { GUIDE_TARGET_COLUMN, readMtxScreen } from '../server/perturbation/mtx';
import { syntheticScreen, transposed } from '../server/perturbation/synthetic';
import type { ScreenData } from '../server/perturbation/types';
import { FlagReader } from './flags';

type UsageErrorFactory = (message: string) => Error;

export const perturbUsage = [
  'tributary perturb synth --genes D --graph er|sf [--reversible|--nonlinear] --seed S --out FILE.h5ad',
  '                        [--truth FILE.csv] [--cells 200] [--doubles 0]',
  '  A synthetic Perturb-seq screen with ground truth (DESIGN.md §5): linear SDE on an Erdős–Rényi or',
  '  scale-free graph (non-reversible by default), or the nonlinear family; every gene perturbed singly.',
  'tributary perturb fit --data FILE.h5ad|FILE.csv --perturbation-key KEY --control LABEL --out DIR',
  '                      [--counts|--lognorm] [--steps 2000] [--seed 0] [--holdout-combinations K]',
  '                      [--max-genes N] [--predicted-cells N] [--holdout-singles G1,G2]',
  '                      [--holdout-single-steps N] [--measurement zip|none]',
  '  Preprocesses the screen (--counts: QC, normalise to the median control library, log1p; --lognorm: X',
  '  as it is; default: counts when X holds non-negative integers), holds out K combinations (default a',
  '  fifth; only those whose genes are all perturbed in training; none without combinations), trains LCD',
  '  (progress on stderr) and writes DIR/model.json and DIR/summary.json: held-out metrics (RMSE of the',
  '  mean, Pearson of the mean shift, energy distance, MMD; all genes and top-20 DE) next to the control',
  '  and additive baselines, with the relative change, and the training time. Counts: LCD models the',
  '  latents of a zero-inflated Poisson measurement model fitted first (--measurement none: log1p of',
  '  normalised counts instead). --holdout-singles: also',
  '  leave each listed single knockout out (one more model each, --holdout-single-steps steps) and score',
  '  its prediction against the control and mean-single-shift baselines.',
  'tributary perturb predict --model DIR --perturbations "A+B,C+D" [--cells 100] [--seed 0] --out FILE.csv',
  '  Predicted cells: a header "perturbation" + gene names, one row per cell; genes must have been',
  '  perturbed in training (the control label predicts control cells).',
  'tributary perturb clipr --model DIR --out FILE.csv',
  '  CLIPR causal matrix: a header of gene names, then row i, column j = the effect of gene i on gene j.',
  'tributary perturb assign-guides --matrix FILE.mtx[.gz] --genes FILE --guides FILE.mtx[.gz]',
  '                      --guide-ids FILE --guide-targets FILE.csv [--obs FILE.csv]',
  '                      [--strategy highest|threshold] [--min-umi 1] --out FILE.csv',
  '  Assigns guides to the cells of a MatrixMarket screen and writes its cell table (one row per cell, in',
  '  matrix order: the --obs columns, then guides, perturbation, n_guides, guide_umis) for',
  '  shared/peers/write_h5ad.py --obs.',
].join('\n');

/** The numeric-flag reader of cli/flags.ts, as this file's commands call it. */
function integer(
  flag: string,
  value: string | undefined,
  fallback: number,
  min: number,
  usageError: UsageErrorFactory,
) {
  return new FlagReader(usageError).integer(flag, value, fallback, min);
}

export async function runPerturbCommand(args: string[], usageError: UsageErrorFactory) {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'synth':
      return runSynth(rest, usageError);
    case 'fit':
      return runFit(rest, usageError);
    case 'predict':
      return runPredict(rest, usageError);
    case 'clipr':
      return runClipr(rest, usageError);
    case 'assign-guides':
      return runAssignGuides(rest, usageError);
    default:
      throw usageError(
        sub === undefined
          ? 'perturb needs a subcommand: synth, fit, predict, clipr or assign-guides'
          : `unknown perturb subcommand "${sub}" (synth, fit, predict, clipr, assign-guides)`,
      );
  }
}

async function runSynth(rest: string[], usageError: UsageErrorFactory) {
  const { values } = parseArgs({
    args: rest,
    options: {
      genes: { type: 'string' },
      graph: { type: 'string' },
      reversible: { type: 'boolean' },
      nonlinear: { type: 'boolean' },
      seed: { type: 'string' },
      out: { type: 'string' },
      truth: { type: 'string' },
      cells: { type: 'string' },
      doubles: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.out) throw usageError('perturb synth needs --out FILE.h5ad');
  if (values.graph !== 'er' && values.graph !== 'sf') throw usageError('--graph must be er or sf');
  if (values.reversible && values.nonlinear)
    throw usageError('--reversible and --nonlinear exclude each other');
  const genes = integer('genes', values.genes, 20, 2, usageError);
  if (genes > 2000) throw usageError('--genes must be at most 2000');
  const family = values.nonlinear ? 'nonlinear' : values.reversible ? 'reversible' : 'nonreversible';
  const started = performance.now();
  const screen = syntheticScreen({
    genes,
    graph: values.graph,
    family,
    seed: integer('seed', values.seed, 0, 0, usageError),
    cellsPerCondition: integer('cells', values.cells, 200, 1, usageError),
    doubles: integer('doubles', values.doubles, 0, 0, usageError),
  });
  await writeH5ad(
    values.out,
    {
      X: { format: 'dense', rows: screen.cellCount, cols: genes, values: screen.cells },
      cells: screen.labels.map((_, i) => `cell${i}`),
      genes: screen.genes,
      obs: { perturbation: screen.labels },
      uns: { family, graph: values.graph, seed: screen.seed },
    },
    { xFormat: 'dense' },
  );
  if (values.truth) {
    // A[i][j] is the effect of gene j on gene i; the file's [i][j] is the effect of gene i on gene j.
    await fs.writeFile(values.truth, stringify([screen.genes, ...transposed(screen.trueMatrix)]));
  }
  return {
    command: 'perturb synth',
    family,
    graph: values.graph,
    genes,
    cells: screen.cellCount,
    conditions: screen.conditions.length,
    out: values.out,
    truth: values.truth ?? null,
    burn_in: screen.burnIn ?? null,
    seconds: (performance.now() - started) / 1000,
  };
}

// ---------------------------------------------------------------------------------------------------
// perturb fit / predict / clipr

const MODEL_FILE = 'model.json';
const SUMMARY_FILE = 'summary.json';
const round6 = (value: number) => (Number.isFinite(value) ? Math.round(value * 1e6) / 1e6 : null);

/** A screen file by extension: .h5ad, or a cells × genes .csv (first column the cell names, as pandas
 * writes it, unless it is the perturbation column itself). */
async function readScreenFile(file: string, key: string, usageError: UsageErrorFactory): Promise<ScreenData> {
  const lower = file.toLowerCase();
  if (lower.endsWith('.h5ad')) return readH5ad(file, { obsColumns: [key] });
  if (lower.endsWith('.csv') || lower.endsWith('.csv.gz')) {
    const handle = await fs.open(file, 'r');
    let firstLine: string;
    try {
      const buffer = Buffer.alloc(65536);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      firstLine = lower.endsWith('.gz')
        ? ''
        : buffer.subarray(0, bytesRead).toString('utf8').split(/\r?\n/)[0];
    } finally {
      await handle.close();
    }
    const first = firstLine.split(',')[0]?.trim().replace(/^"|"$/g, '');
    return readCsvScreen(file, {
      orientation: 'cells-by-genes',
      obsColumns: [key],
      indexColumn: first === key ? null : 0,
    });
  }
  throw usageError(`--data must be an .h5ad or a cells × genes .csv file, got "${file}"`);
}

async function runFit(rest: string[], usageError: UsageErrorFactory) {
  const { values } = parseArgs({
    args: rest,
    options: {
      data: { type: 'string' },
      'perturbation-key': { type: 'string' },
      control: { type: 'string' },
      out: { type: 'string' },
      counts: { type: 'boolean' },
      lognorm: { type: 'boolean' },
      steps: { type: 'string' },
      seed: { type: 'string' },
      'holdout-combinations': { type: 'string' },
      'max-genes': { type: 'string' },
      'predicted-cells': { type: 'string' },
      'holdout-singles': { type: 'string' },
      'holdout-single-steps': { type: 'string' },
      measurement: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.data) throw usageError('perturb fit needs --data FILE (.h5ad or .csv)');
  if (!values.out) throw usageError('perturb fit needs --out DIR');
  const key = values['perturbation-key'];
  if (!key) throw usageError('perturb fit needs --perturbation-key KEY (the obs column of labels)');
  const controlLabel = values.control;
  if (!controlLabel) throw usageError('perturb fit needs --control LABEL (the control cells’ label)');
  if (values.counts && values.lognorm) throw usageError('--counts and --lognorm exclude each other');
  const steps = integer('steps', values.steps, 2000, 1, usageError);
  const seed = integer('seed', values.seed, 0, 0, usageError);
  const maxGenes =
    values['max-genes'] === undefined
      ? undefined
      : integer('max-genes', values['max-genes'], 0, 1, usageError);
  const predictedCellsFlag =
    values['predicted-cells'] === undefined
      ? undefined
      : integer('predicted-cells', values['predicted-cells'], 0, 2, usageError);

  const screen = await readScreenFile(values.data, key, usageError);
  const { model, summary } = await fitPerturbationModel(screen, {
    perturbationKey: key,
    control: controlLabel,
    input: values.counts ? 'counts' : values.lognorm ? 'lognorm' : 'auto',
    steps,
    seed,
    maxGenes,
    predictedCells: predictedCellsFlag,
    holdOutCombinations:
      values['holdout-combinations'] === undefined
        ? undefined
        : integer('holdout-combinations', values['holdout-combinations'], 0, 0, usageError),
    measurement: (() => {
      const value = values.measurement ?? 'zip';
      if (value !== 'zip' && value !== 'none') throw usageError('--measurement must be zip or none');
      return value;
    })(),
    holdOutSingles: values['holdout-singles']
      ?.split(',')
      .map((gene) => gene.trim())
      .filter((gene) => gene !== ''),
    holdOutSingleSteps:
      values['holdout-single-steps'] === undefined
        ? undefined
        : integer('holdout-single-steps', values['holdout-single-steps'], 0, 1, usageError),
    onProgress: (message: string) => console.error(`[perturb fit] ${message}`),
  });
  await fs.mkdir(values.out, { recursive: true });
  const modelPath = path.join(values.out, MODEL_FILE);
  const summaryPath = path.join(values.out, SUMMARY_FILE);
  await fs.writeFile(modelPath, JSON.stringify(model));
  const result = {
    command: 'perturb fit',
    data: values.data,
    out: values.out,
    model: modelPath,
    summary: summaryPath,
    ...summary,
  };
  await fs.writeFile(summaryPath, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

async function loadModelFile(dir: string): Promise<PerturbModelFile> {
  const file = path.join(dir, MODEL_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${file} (written by perturb fit)`, { cause: error });
  }
  const parsed = JSON.parse(text) as PerturbModelFile;
  if (parsed.format !== 'tributary.perturb-model/v1')
    throw new Error(`${file} is not a perturb fit model (format ${String(parsed.format)})`);
  return parsed;
}

async function runPredict(rest: string[], usageError: UsageErrorFactory) {
  const { values } = parseArgs({
    args: rest,
    options: {
      model: { type: 'string' },
      perturbations: { type: 'string' },
      cells: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.model) throw usageError('perturb predict needs --model DIR (written by perturb fit)');
  if (!values.out) throw usageError('perturb predict needs --out FILE.csv');
  if (!values.perturbations) throw usageError('perturb predict needs --perturbations "A+B,C+D"');
  const cells = integer('cells', values.cells, 100, 1, usageError);
  if (cells > 100_000) throw usageError('--cells must be at most 100000');
  const seed = integer('seed', values.seed, 0, 0, usageError);
  const file = await loadModelFile(values.model);
  const known = new Set(file.perturbed_genes);
  const labels = values.perturbations
    .split(',')
    .map((label) => label.trim())
    .filter((label) => label !== '');
  if (labels.length === 0) throw usageError('--perturbations lists no perturbation');
  const sets = labels.map((label) =>
    label === file.control_label ? [] : [...new Set(label.split('+').map((gene) => gene.trim()))].sort(),
  );
  const unknown = [...new Set(sets.flat().filter((gene) => !known.has(gene)))];
  if (unknown.length > 0 || sets.some((set, i) => set.length === 0 && labels[i] !== file.control_label)) {
    const measured = new Set(file.genes);
    const described = unknown.map((gene) =>
      gene === ''
        ? '(empty gene name)'
        : measured.has(gene)
          ? `${gene} (measured, never perturbed in training)`
          : gene,
    );
    throw usageError(
      `unknown perturbation gene(s): ${described.join(', ')}; the model was trained on ` +
        `${file.perturbed_genes.slice(0, 20).join(', ')}${file.perturbed_genes.length > 20 ? ', …' : ''} ` +
        `(and "${file.control_label}" for control)`,
    );
  }
  await initTensorBackend();
  const model = LcdModel.fromWeights(file.prediction);
  try {
    const started = performance.now();
    // With a measurement model the samples are latents: counts are drawn through it and normalised.
    const predicted = sampleLcd(model, sets, cells, { seed }).map((latents, s) =>
      latentsToObserved(
        latents,
        file.measurement,
        file.target_library_size,
        seed + 7919 * (s + 1),
        file.selected_count_share ?? 1,
      ),
    );
    const d = model.dimension;
    const rows: (string | number)[][] = [['perturbation', ...file.genes]];
    sets.forEach((set, s) => {
      const label = set.length === 0 ? file.control_label : set.join('+');
      for (let c = 0; c < cells; c++) rows.push([label, ...predicted[s].subarray(c * d, (c + 1) * d)]);
    });
    await fs.writeFile(values.out, stringify(rows));
    return {
      command: 'perturb predict',
      model: values.model,
      out: values.out,
      perturbations: sets.map((set) => (set.length === 0 ? file.control_label : set.join('+'))),
      cells_per_perturbation: cells,
      genes: d,
      units:
        file.input_kind === 'counts' ? 'log1p of counts normalised to the median control library' : 'as X',
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    model.dispose();
  }
}

async function runClipr(rest: string[], usageError: UsageErrorFactory) {
  const { values } = parseArgs({
    args: rest,
    options: { model: { type: 'string' }, out: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  if (!values.model) throw usageError('perturb clipr needs --model DIR (written by perturb fit)');
  if (!values.out) throw usageError('perturb clipr needs --out FILE.csv');
  const file = await loadModelFile(values.model);
  await initTensorBackend();
  const started = performance.now();
  const { effects, result } = cliprMatrix(file);
  await fs.writeFile(values.out, stringify([file.genes, ...effects]));
  return {
    command: 'perturb clipr',
    model: values.model,
    out: values.out,
    genes: file.genes.length,
    conditions: result.conditions.length,
    max_fixed_point_residual: round6(Math.max(...result.residuals)),
    iterations: result.iterations,
    seconds: (performance.now() - started) / 1000,
  };
}

/** `tributary bench perturbation`: the JSON keys, then details. */
export async function runPerturbationBench(args: string[], usageError: UsageErrorFactory) {
  const { values } = parseArgs({
    args,
    options: { quick: { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  });
  void usageError;
  const quick = values.quick ?? false;
  const progress = (message: string) => console.error(`[bench perturbation] ${message}`);
  const readers = await runReaderBench();
  progress(`readers: ${JSON.stringify(readers)}`);
  const clipr = await runCliprSuite({
    genes: quick ? 15 : 30,
    seeds: quick ? [1] : [1, 2, 3],
    steps: quick ? 300 : 1000,
    onProgress: progress,
  });
  const combos = await runComboSuite({
    seeds: quick ? [1] : [1, 2, 3],
    steps: quick ? 500 : 2000,
    onProgress: progress,
  });
  const speed50 = await runLcdSpeed(50, { seconds: quick ? 2 : 5 });
  const speed300 = await runLcdSpeed(300, { seconds: quick ? 2 : 5 });
  return {
    bench: 'perturbation',
    clipr,
    combos,
    reader_cells_per_s: readers,
    lcd_steps_per_s: { '50': speed50.steps_per_s, '300': speed300.steps_per_s },
    lcd_speed: [speed50, speed300],
  };
}

async function runAssignGuides(rest: string[], usageError: UsageErrorFactory) {
  const { values } = parseArgs({
    args: rest,
    options: {
      matrix: { type: 'string' },
      genes: { type: 'string' },
      guides: { type: 'string' },
      'guide-ids': { type: 'string' },
      'guide-targets': { type: 'string' },
      obs: { type: 'string' },
      strategy: { type: 'string' },
      'min-umi': { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  for (const flag of ['matrix', 'genes', 'guides', 'guide-ids', 'guide-targets', 'out'] as const) {
    if (!values[flag]) throw usageError(`perturb assign-guides needs --${flag}`);
  }
  const strategy = values.strategy ?? 'highest';
  if (strategy !== 'highest' && strategy !== 'threshold')
    throw usageError('--strategy must be highest or threshold');
  const screen = await readMtxScreen({
    matrix: values.matrix!,
    genes: values.genes!,
    obs: values.obs,
    guides: {
      counts: values.guides!,
      ids: values['guide-ids']!,
      targets: values['guide-targets']!,
      assignment: { strategy, minUmi: integer('min-umi', values['min-umi'], 1, 0, usageError) },
    },
  });
  const columns = Object.keys(screen.obs);
  const rows = screen.cells.map((cell, i) => [cell, ...columns.map((c) => screen.obs[c][i])]);
  await fs.writeFile(values.out!, stringify([['cell', ...columns], ...rows]));
  const labels = Array.from(screen.obs[GUIDE_TARGET_COLUMN], String);
  return {
    command: 'perturb assign-guides',
    out: values.out,
    cells: screen.cells.length,
    genes: screen.genes.length,
    columns: ['cell', ...columns],
    labels: new Set(labels).size,
    unassigned: labels.filter((label) => label === '').length,
    notes: screen.notes,
  };
}
