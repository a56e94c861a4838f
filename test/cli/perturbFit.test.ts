/**
 * `tributary perturb fit | predict | clipr` end to end on a small synthetic reversible screen (8 genes,
 * every gene perturbed singly, 6 doubles, 200 cells per condition) written by `perturb synth`: the fit
 * writes the model and the summary with held-out metrics next to the baselines, CLIPR's matrix recovers
 * the true one (from `--truth`, same orientation: [i][j] = effect of gene i on gene j), predictions have
 * the documented shape, and usage mistakes exit with 2.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoreCausalMatrix } from '../../server/engines/clipr/evaluation';
import { syntheticScreen } from '../../server/perturbation/synthetic';
import { makeTempDir, tributary } from '../support/cli';

const dir = makeTempDir('tributary-perturb-fit-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const screenPath = path.join(dir, 'screen.h5ad');
const truthPath = path.join(dir, 'truth.csv');
const modelDir = path.join(dir, 'model');
// The child processes share two busy cores with the rest of the suite: generous limits.
const LONG = 150_000;

function readCsv(file: string): string[][] {
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split(','));
}

type MetricRow = Record<'rmse_mean' | 'pearson_shift' | 'energy_distance' | 'mmd', number | null>;
type Metrics = Record<
  'lcd' | 'control' | 'additive' | 'relative_to_control' | 'relative_to_additive',
  { all: MetricRow; top_de: MetricRow }
>;

interface FitSummary {
  command: string;
  model: string;
  summary: string;
  input_kind: string;
  genes: number;
  conditions: { control: number; singles: number; combinations: number };
  held_out: string[];
  preprocessing: { step: string; cells_kept: number; genes_kept: number }[];
  training: { steps: number; prediction_model: { seconds: number }; clipr_model: { seconds: number } };
  metrics: {
    per_combination: (Metrics & { perturbation: string; cells_observed: number; cells_predicted: number })[];
    mean: Metrics | null;
    held_out_singles: {
      per_gene: (Record<'lcd' | 'control' | 'mean_single_shift', { all: MetricRow; top_de: MetricRow }> & {
        perturbation: string;
        cells_observed: number;
        training_conditions: string[];
      })[];
    };
  };
  train_seconds: number;
}

let fit: FitSummary;

beforeAll(() => {
  const synth = tributary(
    [
      ...['perturb', 'synth', '--genes', '8', '--doubles', '6', '--graph', 'er', '--reversible'],
      ...['--seed', '3', '--out', screenPath, '--truth', truthPath],
    ],
    {},
    LONG,
  );
  expect(synth.code, synth.stderr).toBe(0);
  const run = tributary(
    [
      ...['perturb', 'fit', '--data', screenPath, '--perturbation-key', 'perturbation'],
      ...['--control', 'control', '--out', modelDir, '--lognorm', '--steps', '200', '--seed', '1'],
      ...['--holdout-combinations', '2', '--holdout-singles', 'G2', '--holdout-single-steps', '100'],
    ],
    {},
    LONG,
  );
  expect(run.code, run.stderr).toBe(0);
  // Progress on stderr: step, loss and ETA.
  expect(run.stderr).toMatch(/step 200\/200 loss \d+\.\d+ ETA \d+\.\d s/);
  fit = JSON.parse(run.lastLine) as FitSummary;
}, LONG * 2);

describe('tributary perturb fit', () => {
  it('writes model.json and summary.json with held-out metrics next to both baselines', () => {
    expect(fit).toMatchObject({
      command: 'perturb fit',
      input_kind: 'lognorm',
      genes: 8,
      conditions: { control: 1, singles: 8, combinations: 6 },
      training: { steps: 200 },
    });
    expect(fit.train_seconds).toBeGreaterThan(0);
    expect(fit.preprocessing.map((s) => s.step)).toContain('qc');

    const saved = JSON.parse(fs.readFileSync(path.join(modelDir, 'summary.json'), 'utf8')) as FitSummary;
    expect(saved.metrics).toEqual(fit.metrics);
    const model = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(Object.keys(model).sort()).toEqual(
      [
        'clipr',
        'control_label',
        'format',
        'genes',
        'held_out',
        'input_kind',
        'perturbation_key',
        'perturbed_genes',
        'prediction',
        'target_library_size',
        'training_conditions',
      ].sort(),
    );
    expect(model.genes).toEqual(['G0', 'G1', 'G2', 'G3', 'G4', 'G5', 'G6', 'G7']);
    expect(model.perturbed_genes).toEqual(model.genes);

    // Two combinations held out, each made of genes perturbed (singly) in training, and not trained on.
    expect(fit.held_out).toHaveLength(2);
    for (const key of fit.held_out) expect(key).toMatch(/^G\d\+G\d$/);
    expect(model.training_conditions).not.toContain(fit.held_out[0]);
    expect(model.training_conditions).toContain('G0');

    expect(fit.metrics.per_combination.map((row) => row.perturbation)).toEqual(fit.held_out);
    const mean = fit.metrics.mean!;
    for (const predictor of [
      'lcd',
      'control',
      'additive',
      'relative_to_control',
      'relative_to_additive',
    ] as const)
      for (const subset of ['all', 'top_de'] as const)
        expect(Object.keys(mean[predictor][subset]).sort()).toEqual(
          ['energy_distance', 'mmd', 'pearson_shift', 'rmse_mean'].sort(),
        );
    // A double shifts the mean far from control (interventions ±5–15): even a briefly trained LCD is far
    // closer than the control baseline. (On a linear screen the additive mean is exact: no claim there.)
    expect(mean.lcd.all.energy_distance!).toBeLessThan(mean.control.all.energy_distance!);
    expect(mean.lcd.all.pearson_shift!).toBeGreaterThan(0.9);
    expect(mean.relative_to_control.all.rmse_mean!).toBeLessThan(0);
  });

  it('leaves a single knockout out: its model trains on no condition perturbing it, scored vs baselines', () => {
    const [row, ...others] = fit.metrics.held_out_singles.per_gene;
    expect(others).toHaveLength(0);
    expect(row.perturbation).toBe('G2');
    expect(row.cells_observed).toBe(200);
    // Every training condition of the full model except those that perturb G2 (the single and its doubles).
    const model = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8')) as {
      training_conditions: string[];
    };
    const withoutG2 = model.training_conditions.filter((key) => !key.split('+').includes('G2'));
    expect(withoutG2.length).toBeLessThan(model.training_conditions.length);
    expect(row.training_conditions).toEqual(withoutG2);
    for (const predictor of ['lcd', 'control', 'mean_single_shift'] as const)
      expect(Number.isFinite(row[predictor].all.energy_distance)).toBe(true);
    // G2's own intervention moves its mean far from control: the control baseline cannot be exact.
    expect(row.control.all.energy_distance!).toBeGreaterThan(0);
  });

  it(
    'refuses a left-out gene that has no single-knockout condition',
    () => {
      const run = tributary(
        [
          ...['perturb', 'fit', '--data', screenPath, '--perturbation-key', 'perturbation'],
          ...['--control', 'control', '--out', path.join(dir, 'bad'), '--steps', '10'],
          ...['--holdout-singles', 'NOPE'],
        ],
        {},
        LONG,
      );
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('no single-knockout condition for "NOPE"');
    },
    LONG,
  );

  it(
    'fits a CSV screen without combinations, holding nothing out',
    () => {
      const screen = syntheticScreen({
        genes: 4,
        graph: 'er',
        family: 'reversible',
        seed: 2,
        cellsPerCondition: 30,
      });
      const d = screen.genes.length;
      const lines = [['perturbation', ...screen.genes].join(',')];
      screen.labels.forEach((label, i) =>
        lines.push([label, ...Array.from(screen.cells.subarray(i * d, (i + 1) * d))].join(',')),
      );
      const csv = path.join(dir, 'screen.csv');
      fs.writeFileSync(csv, `${lines.join('\n')}\n`);
      const run = tributary(
        [
          ...['perturb', 'fit', '--data', csv, '--perturbation-key', 'perturbation', '--control', 'control'],
          ...['--out', path.join(dir, 'csv-model'), '--steps', '20'],
        ],
        {},
        LONG,
      );
      expect(run.code, run.stderr).toBe(0);
      const summary = JSON.parse(run.lastLine) as FitSummary;
      expect(summary).toMatchObject({ genes: 4, held_out: [], metrics: { per_combination: [], mean: null } });
      expect(summary.conditions).toEqual({ control: 1, singles: 4, combinations: 0 });
    },
    LONG,
  );
});

describe('tributary perturb clipr', () => {
  it(
    'writes the gene × gene effect matrix that recovers the true one',
    () => {
      const out = path.join(dir, 'clipr.csv');
      const run = tributary(['perturb', 'clipr', '--model', modelDir, '--out', out], {}, LONG);
      expect(run.code, run.stderr).toBe(0);
      const rows = readCsv(out);
      const truth = readCsv(truthPath);
      expect(rows[0]).toEqual(truth[0]);
      expect(rows).toHaveLength(9);
      const estimate = rows.slice(1).map((row) => row.map(Number));
      const trueMatrix = truth.slice(1).map((row) => row.map(Number));
      for (const row of estimate) {
        expect(row).toHaveLength(8);
        for (const value of row) expect(Number.isFinite(value)).toBe(true);
      }
      // Both files are [i][j] = effect of gene i on gene j, so they are scored as they stand.
      const scores = scoreCausalMatrix(estimate, trueMatrix);
      // Chance is 0.5. With this screen's 6 edge entries among 56 off-diagonal ones, a random score's AUROC
      // has standard deviation √((6 + 50 + 1)/(12·6·50)) ≈ 0.13, so 0.9 is 3 standard deviations above chance;
      // the reversible case is the one where CLIPR must recover A (DESIGN.md §5; measured: 1.0).
      expect(scores.edges).toBe(6);
      expect(scores.auroc).toBeGreaterThanOrEqual(0.9);
      expect(scores.pearson).toBeGreaterThan(0.8);
    },
    LONG,
  );
});

describe('tributary perturb predict', () => {
  it(
    'writes N cells per perturbation with a perturbation column and the gene names',
    () => {
      const out = path.join(dir, 'predicted.csv');
      const run = tributary(
        [
          'perturb',
          'predict',
          '--model',
          modelDir,
          '--perturbations',
          'G1+G2, G5 ,control',
          '--cells',
          '7',
          '--out',
          out,
        ],
        {},
        LONG,
      );
      expect(run.code, run.stderr).toBe(0);
      const rows = readCsv(out);
      expect(rows[0]).toEqual(['perturbation', 'G0', 'G1', 'G2', 'G3', 'G4', 'G5', 'G6', 'G7']);
      expect(rows).toHaveLength(1 + 3 * 7);
      expect(rows.slice(1).map((row) => row[0])).toEqual([
        ...Array<string>(7).fill('G1+G2'),
        ...Array<string>(7).fill('G5'),
        ...Array<string>(7).fill('control'),
      ]);
      for (const row of rows.slice(1)) {
        expect(row).toHaveLength(9);
        for (const value of row.slice(1)) expect(Number.isFinite(Number(value))).toBe(true);
      }
    },
    LONG,
  );

  it(
    'refuses an unknown gene and a missing --out with exit code 2',
    () => {
      const unknown = tributary(
        [
          'perturb',
          'predict',
          '--model',
          modelDir,
          '--perturbations',
          'G1+NOPE',
          '--out',
          path.join(dir, 'x.csv'),
        ],
        {},
        LONG,
      );
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/unknown perturbation gene\(s\): NOPE/);
      expect(fs.existsSync(path.join(dir, 'x.csv'))).toBe(false);

      const noOut = tributary(['perturb', 'predict', '--model', modelDir, '--perturbations', 'G1'], {}, LONG);
      expect(noOut.code).toBe(2);
      expect(noOut.stderr).toMatch(/--out/);
      const fitNoOut = tributary(
        [
          'perturb',
          'fit',
          '--data',
          screenPath,
          '--perturbation-key',
          'perturbation',
          '--control',
          'control',
        ],
        {},
        LONG,
      );
      expect(fitNoOut.code).toBe(2);
      expect(fitNoOut.stderr).toMatch(/--out DIR/);
    },
    LONG,
  );
});
