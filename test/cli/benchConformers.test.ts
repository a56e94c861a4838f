/**
 * `tributary bench conformers`'s per-molecule comparison (bench/conformers.ts) on one small molecule: both
 * ensembles, RDKit's MMFF94 energies of both (finite), and the keys of the bench's JSON summary. Uses the RDKit
 * peer (../shared/peers/rdkit_oracle.py); a missing peer fails with the install command.
 */
import { describe, expect, it } from 'vitest';
import { compareConformers, summariseComparisons } from '~/bench/conformers';
import { requireRdkitPeer } from '../support/rdkitPeer';

describe('bench conformers comparison', () => {
  it('compares our ensemble with RDKit’s on energies computed by RDKit', async () => {
    requireRdkitPeer();
    const { results, failures } = await compareConformers([{ id: 'test:1', set: 'qm9', smiles: 'CCCO' }], {
      conformers: 3,
      seed: 7,
      log: () => {},
    });
    expect(failures).toEqual([]);
    expect(results).toHaveLength(1);
    const [result] = results;
    for (const side of [result.ours, result.rdkit]) {
      expect(side.conformers).toBeGreaterThanOrEqual(1);
      expect(side.conformers).toBeLessThanOrEqual(3);
      for (const value of [side.min_energy, side.mean_energy, side.mean_energy_matched, side.seconds])
        expect(Number.isFinite(value)).toBe(true);
      expect(side.min_energy).toBeLessThanOrEqual(side.mean_energy + 1e-9);
      expect(side.distinct).toBeGreaterThanOrEqual(1);
    }
    // The same force field on both sides: our MMFF94 energies agree with RDKit's on our structures.
    expect(result.ours_energy_max_diff).toBeLessThan(0.01);
    expect(result.cov_r_125).toBeGreaterThanOrEqual(0);
    expect(result.cov_r_125).toBeLessThanOrEqual(1);
    expect(result.mat_r).toBeGreaterThanOrEqual(0);
    expect(result.stereo_mismatch).toEqual({ ours: 0, rdkit: 0 });

    const summary = summariseComparisons(results);
    expect(summary.molecules).toBe(1);
    for (const side of [summary.ours, summary.rdkit])
      expect(Object.keys(side)).toEqual(
        expect.arrayContaining(['min_energy', 'mean_energy', 'distinct', 'seconds_per_molecule']),
      );
    expect(Object.keys(summary)).toEqual(expect.arrayContaining(['cov_r_125', 'mat_r']));
  });
});
