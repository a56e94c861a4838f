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

describe('fitting a count screen', () => {
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
