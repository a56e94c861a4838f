/**
 * CLIPR, causal linearisation via perturbation responses (DESIGN.md §5): fixed points and origin drifts of
 * a trained LCD model for control and every single perturbation, the regularised least-squares linear
 * drift A, its baselines, and scores against a ground truth.
 */
import type { LcdModel } from '../lcd/model';
import { lcdFixedPoints, type FixedPointOptions } from './fixedPoints';
import { cliprLinearDrift, toGeneUnits } from './linear';

export * from './baselines';
export * from './evaluation';
export * from './fixedPoints';
export * from './linear';
export * from './modules';

export interface CliprOptions extends FixedPointOptions {
  /** λ of the ridge solve (default: see cliprLinearDrift). */
  regularization?: number;
  /** How the standardised matrix returns to gene units (default 'score', see toGeneUnits). */
  mapping?: 'score' | 'drift';
}

export interface CliprResult {
  /** A in gene units: drift[i][j] = effect of gene j on gene i's rate. */
  drift: number[][];
  /** Aᵀ: effects[i][j] = effect of gene i on gene j (what DESIGN.md §5 and the CLI report). */
  effects: number[][];
  /** A in the model's standardised coordinates. */
  standardisedDrift: number[][];
  /** The conditions used, in order: control ([]) then one single perturbation per gene with an embedding. */
  conditions: string[][];
  /** RMS drift left at each fixed point. */
  residuals: number[];
  iterations: number;
}

/**
 * CLIPR on a trained LCD model: conditions are control and each gene perturbed in training (its own
 * embedding), as DESIGN.md §5 prescribes.
 */
export function cliprFromLcd(model: LcdModel, options: CliprOptions = {}): CliprResult {
  const conditions: string[][] = [[], ...model.config.perturbations.map((gene) => [gene])];
  const inputs = lcdFixedPoints(model, conditions, options);
  const standardisedDrift = cliprLinearDrift(inputs.fixedPoints, inputs.driftAtOrigin, {
    regularization: options.regularization,
  });
  const drift = toGeneUnits(standardisedDrift, model.scale, options.mapping ?? 'score');
  return {
    drift,
    effects: drift[0].map((_, j) => drift.map((row) => row[j])),
    standardisedDrift,
    conditions,
    residuals: inputs.residuals,
    iterations: inputs.iterations,
  };
}
