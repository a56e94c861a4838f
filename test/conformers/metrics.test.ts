/**
 * Ensemble metrics (DESIGN.md §4): energy summaries and COV/MAT on hand-made cases with exact answers, and
 * COV-R/MAT-R/COV-P/MAT-P against rdkit_oracle.py rmsd on a real pair of ensembles (RDKit's ETKDG ensemble as
 * the reference, ours as the generated one, in different atom orders).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withRdkitAromaticity } from '~/server/molecules/conformers/aromaticity';
import { generateEnsemble } from '~/server/molecules/conformers/ensemble';
import {
  coverageMatching,
  distinctConformerIndices,
  energySummary,
  GAS_CONSTANT_KCAL,
  meanPairwiseRmsd,
} from '~/server/molecules/conformers/metrics';
import { heavyAtomGraph, SymmetricRmsd } from '~/server/molecules/conformers/rmsd';
import { readSdf, writeSdf } from '~/server/molecules/conformers/sdf';
import { RDKIT_ORACLE } from '../support/rdkitPeer';
import { oracleRmsd, runPeer } from './oracle';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-metrics-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('energy summary', () => {
  it('has the exact minimum, mean and Boltzmann-weighted mean', () => {
    const kT = GAS_CONSTANT_KCAL * 298.15;
    expect(kT).toBeCloseTo(0.592485, 6);
    // Two states kT·ln 2 apart: weights 1 and 1/2, so ⟨E⟩ = (kT ln 2 · 1/2) / (3/2) = kT ln 2 / 3.
    const pair = energySummary([10, 10 + kT * Math.LN2]);
    expect(pair.min).toBe(10);
    expect(pair.mean).toBeCloseTo(10 + (kT * Math.LN2) / 2, 12);
    expect(pair.boltzmann).toBeCloseTo(10 + (kT * Math.LN2) / 3, 12);
    // Equal energies: all three coincide; a far-away state has no weight (and does not overflow).
    expect(energySummary([-5, -5, -5]).boltzmann).toBeCloseTo(-5, 12);
    expect(energySummary([0, 1e4]).boltzmann).toBe(0);
    expect(energySummary([0, 1e4]).mean).toBe(5000);
    // At 1000 K the weights of the pair flatten toward 1/2 each: check the closed form again.
    const hot = GAS_CONSTANT_KCAL * 1000;
    const w = Math.exp(-1 / hot);
    expect(energySummary([0, 1], 1000).boltzmann).toBeCloseTo(w / (1 + w), 12);
  });
});

describe('distinct conformers and COV/MAT on hand-made distance matrices', () => {
  it('counts greedy clusters at a threshold', () => {
    // 0 and 1 are close, 2 is far from both, 3 is close to 2.
    const d = [
      [0, 0.2, 2, 2.1],
      [0.2, 0, 1.9, 2],
      [2, 1.9, 0, 0.4],
      [2.1, 2, 0.4, 0],
    ];
    expect(distinctConformerIndices(d, 0.5)).toEqual([0, 2]);
    expect(distinctConformerIndices(d, 0.3)).toEqual([0, 2, 3]);
    expect(distinctConformerIndices(d, 0.1)).toEqual([0, 1, 2, 3]);
    expect(meanPairwiseRmsd(d)).toBeCloseTo((0.2 + 2 + 2.1 + 1.9 + 2 + 0.4) / 6, 12);
  });

  it('gives the exact COV-R, MAT-R, COV-P and MAT-P', () => {
    // Rows: 3 reference conformers; columns: 2 generated ones.
    const d = [
      [0.5, 1.0], // best 0.5: covered at 0.75 and 1.25
      [1.0, 2.0], // best 1.0: covered at 1.25 only
      [1.3, 1.25], // best 1.25: not covered at 1.25 (strict <)
    ];
    const result = coverageMatching(d);
    expect(result.covR['0.75']).toBeCloseTo(1 / 3, 12);
    expect(result.covR['1.25']).toBeCloseTo(2 / 3, 12);
    expect(result.matR).toBeCloseTo((0.5 + 1.0 + 1.25) / 3, 12);
    // Generated: column 0 best 0.5, column 1 best 1.0.
    expect(result.covP['0.75']).toBeCloseTo(1 / 2, 12);
    expect(result.covP['1.25']).toBeCloseTo(1, 12);
    expect(result.matP).toBeCloseTo(0.75, 12);
    // A perfect copy of the reference: full coverage, zero matching distance.
    const identity = coverageMatching([
      [0, 3],
      [3, 0],
    ]);
    expect(identity).toEqual({
      covR: { '0.75': 1, '1.25': 1 },
      covP: { '0.75': 1, '1.25': 1 },
      matR: 0,
      matP: 0,
    });
  });
});

describe('COV/MAT against the RDKit peer', () => {
  it('matches rdkit_oracle.py rmsd on RDKit ETKDG references and our ensemble', async () => {
    // (S)-ibuprofen: 4 rotatable bonds, symmetric isopropyl and ring. The peer groups conformers by canonical
    // SMILES with stereo read from 3-D, so an ensemble of the wrong hand would find no reference at all.
    const smiles = 'CC(C)Cc1ccc(cc1)[C@H](C)C(=O)O';
    const referenceFile = path.join(scratch, 'reference.sdf');
    const generatedFile = path.join(scratch, 'generated.sdf');
    runPeer(
      [RDKIT_ORACLE, 'conformers', '--n', '6', '--seed', '7', '--sdf', referenceFile],
      `${smiles}\n`,
      'conformers',
    );
    const ensemble = await generateEnsemble(smiles, { n: 6, seed: 3 });
    fs.writeFileSync(
      generatedFile,
      writeSdf(
        ensemble.topology,
        ensemble.conformers.map((conformer, index) => ({
          name: `gen ${index}`,
          coordinates: conformer.coordinates,
        })),
      ),
    );
    const [peer] = oracleRmsd(referenceFile, generatedFile);

    const references = readSdf(fs.readFileSync(referenceFile, 'utf8'));
    const generated = readSdf(fs.readFileSync(generatedFile, 'utf8'));
    expect(peer.reference).toBe(references.length);
    expect(peer.generated).toBe(generated.length);
    const symmetric = new SymmetricRmsd(
      heavyAtomGraph(await withRdkitAromaticity(references[0].topology)),
      heavyAtomGraph(await withRdkitAromaticity(generated[0].topology)),
    );
    expect(symmetric.mappings.length).toBe(8); // isopropyl methyls × ring flip × acid oxygens
    const rmsd = symmetric.matrix(
      references.map((entry) => entry.coordinates),
      generated.map((entry) => entry.coordinates),
    );
    const ours = coverageMatching(rmsd);
    console.log(`COV/MAT ours vs RDKit peer: ${JSON.stringify(ours)} / ${JSON.stringify(peer)}`);
    expect(ours.matR).toBeCloseTo(peer.mat_r, 3);
    expect(ours.matP).toBeCloseTo(peer.mat_p, 3);
    for (const threshold of ['0.75', '1.25'] as const) {
      expect(ours.covR[threshold]).toBeCloseTo(peer[`cov_r@${threshold}`], 12);
      expect(ours.covP[threshold]).toBeCloseTo(peer[`cov_p@${threshold}`], 12);
    }
  });
});
