/**
 * The learned preference reward (rewards.ts kind `learned`, DESIGN.md §6 → §3): θᵀ(raw − mean)/sd over the
 * features of features.ts. Exact on a unit θ (the reward is then one descriptor itself) and equal to the
 * campaign pool's own z-scored features (server/preferences/molecules.ts) on a real pool.
 */
import { describe, expect, it } from 'vitest';
import { MOLECULE_FEATURE_NAMES } from '../../server/molecules/features';
import { MoleculeContext } from '../../server/molecules/properties';
import { loadRDKit, withMolecule } from '../../server/molecules/rdkit';
import { compileMolecularReward } from '../../server/molecules/rewards';
import { buildMoleculePool } from '../../server/preferences/molecules';

const d = MOLECULE_FEATURE_NAMES.length;
const smiles = ['CC(=O)Oc1ccccc1C(=O)O', 'CC(=O)Nc1ccc(O)cc1', 'CN1C=NC2=C1C(=O)N(C(=O)N2C)C', 'CCO'];

describe('learned preference reward', () => {
  it('with θ the QED axis, mean 0 and sd 1, is QED itself', async () => {
    const rdkit = await loadRDKit();
    const theta = Array.from({ length: d }, (_, j) => (j === MOLECULE_FEATURE_NAMES.indexOf('QED') ? 1 : 0));
    const reward = await compileMolecularReward({
      kind: 'learned',
      theta,
      mean: new Array<number>(d).fill(0),
      sd: new Array<number>(d).fill(1),
    });
    const values = reward.evaluate(smiles);
    smiles.forEach((s, i) =>
      expect(values[i]).toBe(
        withMolecule(rdkit, s, (mol) => new MoleculeContext(rdkit, mol).property('qed')),
      ),
    );
    reward.dispose();
  });

  it('equals θᵀφ with the pool’s own z-scored features', async () => {
    const pool = await buildMoleculePool(smiles.join('\n'), 2);
    const theta = Array.from({ length: d }, (_, j) => Math.sin(j + 1));
    const reward = await compileMolecularReward({ kind: 'learned', theta, ...pool.normalization });
    const values = reward.evaluate(pool.molecules.map((m) => m.smiles));
    pool.features.forEach((phi, i) => {
      const expected = phi.reduce((sum, value, j) => sum + theta[j] * value, 0);
      // Same numbers by two routes (the pool z-scores all rows, the reward one at a time): equal up to
      // the order of floating-point additions, relative 1e-12.
      expect(values[i]).toBeCloseTo(expected, 10);
    });
    reward.dispose();
  });

  it('rejects a θ of the wrong length or a zero deviation', async () => {
    const zeros = new Array<number>(d).fill(0);
    await expect(
      compileMolecularReward({ kind: 'learned', theta: [1, 2], mean: zeros, sd: zeros.map(() => 1) }),
    ).rejects.toThrow(/invalid molecular reward/);
    await expect(
      compileMolecularReward({ kind: 'learned', theta: zeros, mean: zeros, sd: zeros }),
    ).rejects.toThrow(/invalid molecular reward/);
  });
});
