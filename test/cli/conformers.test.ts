/** `tributary conformers` from the command line: an SDF whose records carry ENERGY, as the summary says. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, tributary } from '../support/cli';

const dir = makeTempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('tributary conformers', () => {
  it('writes one SDF record per conformer with its MMFF94 energy', () => {
    const out = path.join(dir, 'ibuprofen.sdf');
    const run = tributary(
      ['conformers', '--smiles', 'CC(C)Cc1ccc(cc1)C(C)C(=O)O', '--n', '4', '--seed', '3', '--out', out],
      {},
      170_000,
    );
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.lastLine) as { n: number; energies: { min: number; mean: number } };
    const records = fs
      .readFileSync(out, 'utf8')
      .split('$$$$')
      .filter((r) => r.trim() !== '');
    expect(records).toHaveLength(summary.n);
    const energies = records.map((r) => Number(/> {2}<ENERGY>\s*\n\s*(\S+)/.exec(r)?.[1]));
    expect(energies.every(Number.isFinite)).toBe(true);
    expect(Math.min(...energies)).toBeCloseTo(summary.energies.min, 3);
  });

  it('adds GFN2-xTB single points with --energy xtb', () => {
    const out = path.join(dir, 'propanol.sdf');
    const run = tributary(
      ['conformers', '--smiles', 'CCCO', '--n', '3', '--seed', '1', '--energy', 'xtb', '--out', out],
      {},
      170_000,
    );
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.lastLine) as { n: number; xtb_relative: number[] };
    expect(summary.xtb_relative).toHaveLength(summary.n);
    expect(Math.min(...summary.xtb_relative)).toBe(0);
    const xtb = [...fs.readFileSync(out, 'utf8').matchAll(/> {2}<XTB_ENERGY>\s*\n\s*(\S+)/g)].map((m) =>
      Number(m[1]),
    );
    // Propanol's GFN2-xTB energy is ≈ −14.6 Eh ≈ −9,150 kcal/mol.
    expect(xtb).toHaveLength(summary.n);
    for (const energy of xtb) expect(energy).toBeLessThan(-9000);
  });

  it('refuses --prior without --method flow, and an unknown method', () => {
    const out = path.join(dir, 'x.sdf');
    expect(tributary(['conformers', '--smiles', 'CCO', '--prior', out, '--out', out]).code).toBe(2);
    expect(tributary(['conformers', '--smiles', 'CCO', '--method', 'dreams', '--out', out]).code).toBe(2);
  });

  it('refuses a bad SMILES with exit code 2', () => {
    const run = tributary(['conformers', '--smiles', 'C1CC', '--n', '2', '--out', path.join(dir, 'x.sdf')]);
    expect(run.code).toBe(2);
  });
});
