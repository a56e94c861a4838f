/**
 * The design's reward surrogate (server/molecules/surrogate.ts): Tanimoto kernel ridge regression,
 * checked against a direct linear solve, its closed-form leave-one-out error against refitting without
 * each molecule, and on real molecules against a held-out set.
 */
import { describe, expect, it } from 'vitest';
import { Matrix, solve } from 'ml-matrix';
import { createRng } from '../../server/engines/random';
import { TanimotoKernelRidge } from '../../server/molecules/surrogate';
import { loadRDKit, morganFingerprint, tanimoto, withMolecule } from '../../server/molecules/rdkit';
import { MoleculeContext } from '../../server/molecules/properties';
import fs from 'node:fs';
import path from 'node:path';

function randomFingerprints(count: number, bytes: number, seed: number): Uint8Array[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, () =>
    Uint8Array.from(
      { length: bytes },
      () => Math.floor(rng.uniform() * 256) & Math.floor(rng.uniform() * 256),
    ),
  );
}

function kernelMatrix(rows: Uint8Array[], columns: Uint8Array[]): Matrix {
  return new Matrix(
    rows.map((a, i) => columns.map((b, j) => (rows === columns && i === j ? 1 : tanimoto(a, b)))),
  );
}

describe('TanimotoKernelRidge', () => {
  it('predicts ȳ + k(m)ᵀ(K + λI)⁻¹(y − ȳ), as a direct solve does', () => {
    const train = randomFingerprints(40, 32, 1);
    const test = randomFingerprints(10, 32, 2);
    const rng = createRng(3);
    const y = train.map(() => rng.normal());
    const lambda = 0.05;
    const model = TanimotoKernelRidge.fit(train, y, [lambda]);
    const mean = y.reduce((a, b) => a + b, 0) / y.length;
    const system = kernelMatrix(train, train).add(Matrix.eye(40).mul(lambda));
    const coefficients = solve(system, Matrix.columnVector(y.map((v) => v - mean)));
    const expected = kernelMatrix(test, train).mmul(coefficients).add(mean).to1DArray();
    const predicted = model.predict(test);
    // Both are double-precision solves of a system with condition number ≤ (λ_max + λ)/λ ≈ 10³: 1e-9 apart.
    expected.forEach((value, i) => expect(predicted[i]).toBeCloseTo(value, 9));
    expect(model.lambda).toBe(lambda);
  });

  it('its leave-one-out R² equals refitting without each molecule (offset ȳ held fixed)', () => {
    const train = randomFingerprints(25, 16, 4);
    const rng = createRng(5);
    const y = train.map((fp) => fp[0] / 255 + 0.3 * rng.normal());
    const lambda = 0.3;
    const model = TanimotoKernelRidge.fit(train, y, [lambda]);
    const mean = y.reduce((a, b) => a + b, 0) / y.length;
    let squared = 0;
    for (let i = 0; i < train.length; i++) {
      const others = train.filter((_, j) => j !== i);
      const targets = y.filter((_, j) => j !== i).map((v) => v - mean);
      const system = kernelMatrix(others, others).add(Matrix.eye(others.length).mul(lambda));
      const c = solve(system, Matrix.columnVector(targets));
      const prediction = mean + kernelMatrix([train[i]], others).mmul(c).get(0, 0);
      squared += (y[i] - prediction) ** 2;
    }
    const variance = y.reduce((a, v) => a + (v - mean) ** 2, 0) / y.length;
    expect(model.looR2).toBeCloseTo(1 - squared / train.length / variance, 9);
  });

  it('learns QED from 300 ZINC molecules and predicts 200 others better than their mean, as its LOO R² forecasts', async () => {
    const rdkit = await loadRDKit();
    const file = path.resolve(process.cwd(), '..', 'shared', 'data', 'molecules', 'jtvae_zinc_valid_24k.smi');
    const smiles = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0])
      .filter(Boolean)
      .slice(0, 500);
    const rows = smiles.map((s) =>
      withMolecule(rdkit, s, (mol) => ({
        fp: morganFingerprint(mol),
        qed: new MoleculeContext(rdkit, mol).properties().qed,
      })),
    );
    const model = TanimotoKernelRidge.fit(
      rows.slice(0, 300).map((r) => r.fp),
      rows.slice(0, 300).map((r) => r.qed),
    );
    const held = rows.slice(300);
    const predicted = model.predict(held.map((r) => r.fp));
    const mean = held.reduce((a, r) => a + r.qed, 0) / held.length;
    const residual = held.reduce((a, r, i) => a + (r.qed - predicted[i]) ** 2, 0);
    const total = held.reduce((a, r) => a + (r.qed - mean) ** 2, 0);
    const heldOutR2 = 1 - residual / total;
    console.log(
      `[surrogate] QED on ZINC: held-out R² ${heldOutR2.toFixed(3)}, LOO R² ${model.looR2.toFixed(3)}`,
    );
    // ZINC's QED spreads little (sd ≈ 0.14) and 300 examples are few: a quarter of the variance is what
    // fingerprints explain here (0.25 measured); a surrogate with no signal would score ≤ 0. The LOO
    // estimate must forecast the held-out fit (within 0.2), since the design reports it.
    expect(heldOutR2).toBeGreaterThan(0.15);
    expect(Math.abs(model.looR2 - heldOutR2)).toBeLessThan(0.2);
  });

  it('refuses mismatched or too few examples', () => {
    const fps = randomFingerprints(3, 4, 6);
    expect(() => TanimotoKernelRidge.fit(fps, [1, 2])).toThrow(/3 fingerprints but 2 values/);
    expect(() => TanimotoKernelRidge.fit(fps.slice(0, 1), [1])).toThrow(/at least two/);
  });
});
