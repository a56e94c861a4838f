/**
 * `fitPerturbationModel` on count data (DESIGN.md §5 "measurement model"): a synthetic screen whose cells
 * are turned into counts through a known zero-inflated Poisson model, fitted with and without the ZIP
 * measurement model. With it, the model file carries the fitted measurement, predictions come back as
 * log1p of normalised counts with exact zeros (as the observed cells have), and the fitted dropout
 * probabilities recover the true ones.
 */
import { describe, expect, it } from 'vitest';
import { sampleCounts, type ZipMeasurement } from '../../server/engines/lcd/measurement';
import { createRng } from '../../server/engines/random';
import { fitPerturbationModel, latentsToObserved } from '../../server/perturbation/fit';
import { syntheticScreen } from '../../server/perturbation/synthetic';
import type { ScreenData } from '../../server/perturbation/types';

const GENES = 5;
const DROPOUT = 0.3;

function countScreen(): ScreenData {
  const synthetic = syntheticScreen({
    genes: GENES,
    graph: 'er',
    family: 'reversible',
    seed: 4,
    cellsPerCondition: 150,
  });
  // Counts through u_j = 4 and π_j = 0.3.
  const truth: ZipMeasurement = {
    format: 'tributary.zip-measurement/v1',
    dropout: new Array<number>(GENES).fill(DROPOUT),
    scale: new Array<number>(GENES).fill(4),
    priorMean: new Array<number>(GENES).fill(0),
    priorVariance: new Array<number>(GENES).fill(1),
  };
  // Latents around 2 (λ ≈ 8): the Poisson part rarely gives a zero, so the zeros identify π.
  const latents = synthetic.cells.map((value) => 2 + value / 10);
  const rng = createRng(9);
  const counts = sampleCounts(truth, latents, () => rng.uniform());
  return {
    X: { format: 'dense', rows: synthetic.labels.length, cols: GENES, values: counts },
    cells: synthetic.labels.map((_, i) => `cell${i}`),
    genes: Array.from({ length: GENES }, (_, j) => `G${j}`),
    obs: { perturbation: synthetic.labels },
    var: {},
    uns: {},
    notes: [],
  };
}

/** The count screen plus three unperturbed, highly expressed genes, which gene selection leaves out. */
function screenWithBackground(): { screen: ScreenData; share: number } {
  const base = countScreen();
  const rows = base.X.rows;
  const rng = createRng(21);
  const background = 3;
  const cols = GENES + background;
  const values = new Float32Array(rows * cols);
  let shares = 0;
  for (let i = 0; i < rows; i++) {
    let selected = 0;
    let total = 0;
    for (let j = 0; j < cols; j++) {
      // Poisson(12) by inversion for the background genes.
      let value: number;
      if (j < GENES) value = (base.X as { values: Float32Array }).values[i * GENES + j];
      else {
        let k = 0;
        let p = Math.exp(-12);
        let cumulative = p;
        const u = rng.uniform();
        while (u > cumulative && k < 100) {
          k++;
          p *= 12 / k;
          cumulative += p;
        }
        value = k;
      }
      values[i * cols + j] = value;
      total += value;
      if (j < GENES) selected += value;
    }
    shares += total > 0 ? selected / total : 1;
  }
  const genes = [...base.genes, 'B0', 'B1', 'B2'];
  return {
    screen: { ...base, X: { format: 'dense', rows, cols, values }, genes },
    share: shares / rows,
  };
}

describe('fitting a count screen', () => {
  it('puts predictions in the observed units when gene selection drops genes from the library', async () => {
    const { screen, share } = screenWithBackground();
    // The selected genes hold well under half of each library: a units error would show as log(1/share).
    expect(share).toBeLessThan(0.6);
    const { model, summary, distributions } = await fitPerturbationModel(screen, {
      perturbationKey: 'perturbation',
      control: 'control',
      input: 'counts',
      maxGenes: GENES,
      steps: 200,
      seed: 1,
      holdOutSingles: ['G1'],
      holdOutSingleSteps: 200,
      predictedCells: 300,
    });
    expect(summary.genes).toBe(GENES);
    expect(model.selected_count_share).toBeCloseTo(share, 6);
    // Mean log-normalised value of the left-out knockout's genes, predicted vs observed: equal up to the
    // model's error (0.25 is loose for it) and far from the log(1/share) ≥ 0.5 offset of a units error.
    const g1 = distributions.find((entry) => entry.condition === 'G1')!;
    const mean = (rows: number[][]) => rows.flat().reduce((a, b) => a + b, 0) / rows.flat().length;
    expect(Math.log(1 / share)).toBeGreaterThan(0.5);
    expect(Math.abs(mean(g1.predicted) - mean(g1.observed))).toBeLessThan(0.25);
  });

  it('fits the ZIP measurement model first and predicts counts through it', async () => {
    const screen = countScreen();
    const { model, summary } = await fitPerturbationModel(screen, {
      perturbationKey: 'perturbation',
      control: 'control',
      input: 'counts',
      steps: 60,
      seed: 1,
      holdOutSingles: ['G1'],
      holdOutSingleSteps: 30,
      predictedCells: 200,
    });
    expect(summary.input_kind).toBe('counts');
    expect(summary.measurement).toBe('zip');
    const measurement = model.measurement!;
    expect(measurement.dropout).toHaveLength(GENES);
    // π is identified from the excess of zeros over the Poisson part (e^-8 here). Over 900 cells per
    // gene its standard error is √(0.3·0.7/900) ≈ 0.015; 0.06 is four of them.
    console.log(`[fitCounts] fitted dropout ${measurement.dropout.map((pi) => pi.toFixed(3)).join(', ')}`);
    for (const pi of measurement.dropout) expect(Math.abs(pi - DROPOUT)).toBeLessThan(0.06);

    // Predictions are log1p of normalised counts: non-negative, with exact zeros.
    const latents = new Float32Array(200 * GENES).map((_, i) => (i % 3) - 1);
    const observed = latentsToObserved(latents, measurement, model.target_library_size, 5);
    expect(Math.min(...observed)).toBeGreaterThanOrEqual(0);
    const zeros = observed.filter((value) => value === 0).length / observed.length;
    expect(zeros).toBeGreaterThan(DROPOUT - 0.1);
    // Every left-out prediction went through the same path and was scored.
    const [row] = summary.metrics.held_out_singles.per_gene;
    expect(row.perturbation).toBe('G1');
    // The measurement model never saw the left-out knockout's cells.
    expect(summary.measurement_cells).toBe(summary.training.cells - row.cells_observed);
    expect(Number.isFinite(row.lcd.all.energy_distance)).toBe(true);
  });

  it('trains on log1p of normalised counts when asked not to use it', async () => {
    const { model, summary } = await fitPerturbationModel(countScreen(), {
      perturbationKey: 'perturbation',
      control: 'control',
      input: 'counts',
      measurement: 'none',
      steps: 20,
      seed: 1,
    });
    expect(summary.measurement).toBe('none');
    expect(model.measurement).toBeUndefined();
  });
});
