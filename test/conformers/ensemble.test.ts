/**
 * The baseline ensemble (DESIGN.md §4) and `tributary conformers` (issue 7 "CLI"): distinct, minimised,
 * reproducible conformers, and an SD file that RDKit reads with all hydrogens, 3-D coordinates, the input's
 * stereochemistry and an ENERGY equal to RDKit's own MMFF94 energy of the record.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runConformersCommand } from '~/cli/conformers';
import { generateEnsemble } from '~/server/molecules/conformers/ensemble';
import { MmffEvaluator } from '~/server/molecules/conformers/mmff';
import { heavyAtomGraph, SymmetricRmsd } from '~/server/molecules/conformers/rmsd';
import { writeXyz } from '~/server/molecules/conformers/sdf';
import { peerScript } from './oracle';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-conformers-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

class UsageError extends Error {}
const usageError = (message: string) => new UsageError(message);

describe('baseline ensemble', () => {
  it('returns distinct local minima, lowest energy first, reproducibly from the seed', async () => {
    const smiles = 'CCCCOc1ccc(cc1)C(=O)NC'; // 5 rotatable bonds
    const first = await generateEnsemble(smiles, { n: 8, seed: 5 });
    const again = await generateEnsemble(smiles, { n: 8, seed: 5 });
    expect(first.rotatableBonds.length).toBe(5);
    expect(first.conformers.length).toBe(8);
    expect(again.conformers.map((c) => c.energy)).toEqual(first.conformers.map((c) => c.energy));
    const energies = first.conformers.map((c) => c.energy);
    expect(energies).toEqual([...energies].sort((a, b) => a - b));
    expect(first.conformers.some((c) => c.origin === 'random-torsions')).toBe(true);

    // Pairwise heavy-atom RMSD at least the 0.5 Å deduplication threshold.
    const symmetric = new SymmetricRmsd(heavyAtomGraph(first.topology));
    const coordinates = first.conformers.map((c) => c.coordinates);
    const rmsd = symmetric.matrix(coordinates, coordinates);
    for (let i = 0; i < rmsd.length; i++)
      for (let j = i + 1; j < rmsd.length; j++) expect(rmsd[i][j]).toBeGreaterThanOrEqual(0.5);

    // Every conformer is a converged MMFF94 minimum: its energy is what MMFF94 says, and minimising again
    // gains (almost) nothing.
    const evaluator = new MmffEvaluator(first.molecule);
    for (const conformer of first.conformers) {
      expect(conformer.converged).toBe(true);
      expect(evaluator.energy(conformer.coordinates)).toBeCloseTo(conformer.energy, 6);
      expect(evaluator.minimise(conformer.coordinates).energy).toBeGreaterThan(conformer.energy - 0.01);
    }
    // All hydrogens are explicit: C12 H17 N O2 has 32 atoms.
    expect(first.topology.atomCount).toBe(32);
  });

  it('stops early for a rigid molecule instead of inventing conformers, and writes XYZ', async () => {
    const ensemble = await generateEnsemble('c1ccc2ccccc2c1', { n: 5, seed: 2 });
    expect(ensemble.rotatableBonds.length).toBe(0);
    expect(ensemble.conformers.length).toBe(1);
    const [conformer] = ensemble.conformers;
    const xyz = writeXyz(ensemble.topology, [
      { name: 'naphthalene', coordinates: conformer.coordinates, properties: { ENERGY: '1.5' } },
    ]).split('\n');
    expect(xyz[0]).toBe('18');
    expect(xyz[1]).toBe('naphthalene ENERGY=1.5');
    expect(xyz.slice(2, 20).filter((line) => line.startsWith('C ')).length).toBe(10);
    expect(Number(xyz[2].split(' ')[1])).toBeCloseTo(conformer.coordinates[0], 6);
  });
});

describe('tributary conformers', () => {
  it('writes an SD file that RDKit reads back with the stereo, hydrogens and MMFF94 energies', async () => {
    const smiles = 'C[C@@H](O)c1ccc(F)cc1/C=C/C(=O)[O-]'; // a stereocentre and an E double bond
    const out = path.join(scratch, 'out', 'ensemble.sdf');
    const summary = await runConformersCommand(
      ['--smiles', smiles, '--n', '6', '--out', out, '--seed', '7', '--energy', 'mmff'],
      usageError,
    );
    console.log(`conformers summary: ${JSON.stringify(summary)}`);
    expect(summary).toMatchObject({ command: 'conformers', smiles, requested: 6, energy: 'mmff94' });
    // Three rotors with a conjugated, planar tail give few minima 0.5 Å apart: the 28-candidate budget
    // (3n + 10) finds four with this seed.
    const n = summary.n as number;
    expect(n).toBeGreaterThanOrEqual(3);
    expect(n).toBeLessThanOrEqual(6);
    expect(summary.distinct).toBe(n);
    const energies = summary.energies as { min: number; mean: number; boltzmann: number };
    expect(energies.min).toBeLessThanOrEqual(energies.boltzmann);
    expect(energies.boltzmann).toBeLessThanOrEqual(energies.mean);
    expect(typeof summary.seconds).toBe('number');

    const peer = peerScript<{
      records: {
        energy: number;
        mmff: number;
        implicitHs: number;
        atoms: number;
        is3d: boolean;
        canonical: string;
      }[];
      expectedCanonical: string;
      expectedAtoms: number;
    }>(
      `data = json.load(sys.stdin)
records = []
for m in Chem.SDMolSupplier(data["file"], removeHs=False):
    props = AllChem.MMFFGetMoleculeProperties(m)
    ff = AllChem.MMFFGetMoleculeForceField(m, props)
    records.append({"energy": float(m.GetProp("ENERGY")), "mmff": ff.CalcEnergy(),
                    "implicitHs": sum(a.GetNumImplicitHs() for a in m.GetAtoms()), "atoms": m.GetNumAtoms(),
                    "is3d": m.GetConformer().Is3D(), "canonical": Chem.MolToSmiles(Chem.RemoveHs(m))})
ref = Chem.MolFromSmiles(data["smiles"])
print(json.dumps({"records": records, "expectedCanonical": Chem.MolToSmiles(ref),
                  "expectedAtoms": Chem.AddHs(ref).GetNumAtoms()}))`,
      JSON.stringify({ file: out, smiles }),
      'read the conformers SD file',
    );
    expect(peer.records.length).toBe(n);
    for (const record of peer.records) {
      expect(record.implicitHs).toBe(0);
      expect(record.atoms).toBe(peer.expectedAtoms);
      expect(record.is3d).toBe(true);
      expect(record.canonical).toBe(peer.expectedCanonical); // stereocentre kept in 3-D
      // ENERGY is ours on unrounded coordinates; RDKit evaluates the 4-decimal file at a minimum.
      expect(Math.abs(record.energy - record.mmff)).toBeLessThan(0.01);
    }
    expect(peer.records[0].energy).toBeCloseTo(energies.min, 3);
  });

  it('rejects bad usage with a usage error', async () => {
    await expect(runConformersCommand(['--n', '3', '--out', 'x.sdf'], usageError)).rejects.toBeInstanceOf(
      UsageError,
    );
    await expect(runConformersCommand(['--smiles', 'CCO', '--n', '3'], usageError)).rejects.toBeInstanceOf(
      UsageError,
    );
    await expect(
      runConformersCommand(['--smiles', 'CCO', '--n', '0', '--out', 'x.sdf'], usageError),
    ).rejects.toBeInstanceOf(UsageError);
    await expect(
      runConformersCommand(['--smiles', 'CCO', '--out', 'x.sdf', '--energy', 'uff'], usageError),
    ).rejects.toThrow(/--energy must be mmff or xtb/);
    await expect(
      runConformersCommand(['--smiles', 'C1CC', '--out', path.join(scratch, 'bad.sdf')], usageError),
    ).rejects.toThrow(/SMILES/);
  });
});
