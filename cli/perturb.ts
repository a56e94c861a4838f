/**
 * Perturbation-screen commands (DESIGN.md §5):
 *   tributary perturb synth --genes D --graph er|sf [--reversible|--nonlinear] --seed S --out FILE.h5ad
 *                           [--truth FILE.csv] [--cells N] [--doubles N]
 *     a synthetic screen with ground truth, written as .h5ad (obs column `perturbation`: control, G3,
 *     G3+G7) and, with --truth, the true matrix as CSV (header of gene names; row i, column j: the effect
 *     of gene i on gene j).
 *   tributary bench perturbation [--quick]
 *     reader throughput, CLIPR on the synthetic suite, LCD on held-out doubles, LCD steps/s.
 */
import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify/sync';
import { runCliprSuite, runComboSuite, runLcdSpeed } from '../bench/perturbation';
import { runReaderBench } from '../bench/perturbationReaders';
import { writeH5ad } from '../server/perturbation/h5ad';
import { syntheticScreen, transposed } from '../server/perturbation/synthetic';

type UsageErrorFactory = (message: string) => Error;

export const perturbUsage = [
  'tributary perturb synth --genes D --graph er|sf [--reversible|--nonlinear] --seed S --out FILE.h5ad',
  '                        [--truth FILE.csv] [--cells 200] [--doubles 0]',
  '  A synthetic Perturb-seq screen with ground truth (DESIGN.md §5): linear SDE on an Erdős–Rényi or',
  '  scale-free graph (non-reversible by default), or the nonlinear family; every gene perturbed singly.',
].join('\n');

function integer(
  flag: string,
  value: string | undefined,
  fallback: number,
  min: number,
  usageError: UsageErrorFactory,
) {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min)
    throw usageError(`--${flag} must be an integer ≥ ${min}, got "${value}"`);
  return number;
}

export async function runPerturbCommand(args: string[], usageError: UsageErrorFactory) {
  const [sub, ...rest] = args;
  if (sub !== 'synth') {
    throw usageError(
      sub === undefined ? 'perturb needs a subcommand: synth' : `unknown perturb subcommand "${sub}" (synth)`,
    );
  }
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
