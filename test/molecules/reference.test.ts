/**
 * Molecular properties against RDKit's own reference data (../shared/data/reference, from rdkit/rdkit's test
 * data; provenance in ../shared/data/SOURCES.md). Some of these files were written by older RDKit releases
 * or older descriptor definitions; wherever a file and we disagree, the test asks the RDKit peer (Python
 * RDKit 2022.09) and requires that it agrees with us, so every deviation is RDKit's own evolution, not ours.
 */
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { MoleculeContext, NON_STRICT_ROTATABLE_BOND_SMARTS } from '../../server/molecules/properties';
import type { RDKitModule } from '../../server/molecules/rdkit';
import { loadRDKit, MoleculeParseError, sharedSmartsQuery, withMolecule } from '../../server/molecules/rdkit';
import { saFragmentTable } from '../../server/molecules/saScore';
import { oracleProps, requireRdkitPeer, sharedDataFile } from '../support/rdkitPeer';

let rdkit: RDKitModule;

beforeAll(async () => {
  requireRdkitPeer();
  rdkit = await loadRDKit();
  saFragmentTable();
});

/** Rows of a reference file: fields split on `separator`, comment lines and `skip` header lines dropped. */
function referenceRows(file: string, separator: RegExp, skip = 0): string[][] {
  return fs
    .readFileSync(sharedDataFile(`reference/${file}`), 'utf8')
    .split('\n')
    .filter((line) => line.trim() && !line.startsWith('#'))
    .slice(skip)
    .map((line) => line.trim().split(separator));
}

interface Computed {
  smiles: string;
  reference: number[];
  ours: Record<string, number>;
}

/** Our properties for every parseable row (RDKit-unparseable rows are counted, as RDKit's tests skip them). */
function compute(
  rows: string[][],
  columns: number[],
  names: readonly string[],
): { computed: Computed[]; unparseable: number } {
  const computed: Computed[] = [];
  let unparseable = 0;
  for (const row of rows) {
    let ours: Record<string, number>;
    try {
      ours = withMolecule(rdkit, row[0], (mol) => {
        const molecule = new MoleculeContext(rdkit, mol);
        const values: Record<string, number> = {};
        for (const name of names) {
          values[name] =
            name === 'rotb_nonstrict'
              ? sharedSmartsQuery(rdkit, NON_STRICT_ROTATABLE_BOND_SMARTS).countMatches(mol)
              : molecule.property(name as 'qed');
        }
        return values;
      });
    } catch (error) {
      if (!(error instanceof MoleculeParseError)) throw error;
      unparseable++;
      continue;
    }
    computed.push({ smiles: row[0], reference: columns.map((column) => Number(row[column])), ours });
  }
  return { computed, unparseable };
}

/** Agreement of one property with the file: fraction within `tolerance`, max |Δ|, and the rows outside. */
function agreement(computed: Computed[], name: string, column: number, tolerance: number) {
  let maxAbs = 0;
  const outside: { smiles: string; ours: number; file: number }[] = [];
  for (const row of computed) {
    const difference = Math.abs(row.ours[name] - row.reference[column]);
    maxAbs = Math.max(maxAbs, difference);
    if (difference > tolerance)
      outside.push({ smiles: row.smiles, ours: row.ours[name], file: row.reference[column] });
  }
  return { n: computed.length, within: 1 - outside.length / computed.length, maxAbs, outside };
}

/** For rows where the file and we disagree: RDKit 2022's value, which must be ours. */
function expectPeerAgrees(
  outside: { smiles: string; ours: number }[],
  property: 'qed' | 'logp' | 'hba' | 'hbd',
  tolerance: number,
) {
  if (outside.length === 0) return;
  const peer = oracleProps(outside.map((row) => row.smiles)).rows;
  outside.forEach((row, index) => {
    const reference = peer[index];
    if (!reference.valid) throw new Error(`RDKit peer cannot read ${row.smiles}`);
    expect(
      Math.abs(row.ours - reference[property]),
      `${row.smiles}: ours ${row.ours}, RDKit ${reference[property]}`,
    ).toBeLessThanOrEqual(tolerance);
  });
}

describe('RDKit reference files', () => {
  it('QED: NCI 5000 (rdkit/Chem/test_data/QED) within 1e-3 on ≥ 99%, RDKit agreeing where the file does not', () => {
    const { computed, unparseable } = compute(referenceRows('rdkit_qed_NCI_5000.csv', /,/), [1], ['qed']);
    const result = agreement(computed, 'qed', 0, 1e-3);
    console.log(
      `QED vs NCI file: ${result.n} molecules (${unparseable} unparseable), ${(100 * result.within).toFixed(2)}% within 1e-3, ` +
        `max |Δ| ${result.maxAbs.toExponential(2)}; outside: ${JSON.stringify(result.outside)}`,
    );
    expect(result.within).toBeGreaterThanOrEqual(0.99);
    expectPeerAgrees(result.outside, 'qed', 1e-5);
  });

  it('SA score: zim.100 (Contrib/SA_Score/data) within 0.05 on every molecule', () => {
    const { computed, unparseable } = compute(
      referenceRows('sascore_zim100_reference.tsv', /\t/, 1),
      [2],
      ['sa'],
    );
    const result = agreement(computed, 'sa', 0, 0.05);
    console.log(
      `SA vs zim.100: ${result.n} molecules, max |Δ| ${result.maxAbs.toExponential(2)} (file has 3 decimals)`,
    );
    expect(unparseable).toBe(0);
    expect(result.outside).toEqual([]);
    expect(result.maxAbs).toBeLessThanOrEqual(5e-4 + 1e-9);
  });

  it('TPSA: NCI 5K (Ertl / Daylight values) within the file rounding on every molecule', () => {
    const { computed, unparseable } = compute(referenceRows('rdkit_NCI_5K_TPSA.csv', /,/), [1], ['tpsa']);
    const result = agreement(computed, 'tpsa', 0, 0.005 + 1e-9);
    console.log(
      `TPSA vs NCI 5K: ${result.n} molecules (${unparseable} unparseable), max |Δ| ${result.maxAbs.toExponential(2)}`,
    );
    expect(result.outside).toEqual([]);
  });

  it('Crippen logP: Crippen.csv exactly; PP_descrs_regress.2 logP, TPSA, HBA, HBD, rotatable bonds', () => {
    const small = compute(referenceRows('rdkit_Crippen_small.csv', /,/), [1], ['logp']);
    expect(agreement(small.computed, 'logp', 0, 1e-4).outside).toEqual([]);

    // Columns (0-based): 28 TPSA, 29 NumHAcceptors, 30 NumHDonors, 32 NumRotatableBonds (non-strict), 33 MolLogP.
    const { computed } = compute(
      referenceRows('rdkit_PP_descrs_regress.2.csv', /,/, 1),
      [28, 29, 30, 32, 33],
      ['tpsa', 'hba', 'hbd', 'rotb_nonstrict', 'logp'],
    );
    expect(agreement(computed, 'tpsa', 0, 1e-4).outside).toEqual([]);
    expect(agreement(computed, 'hba', 1, 0).outside).toEqual([]);
    expect(agreement(computed, 'hbd', 2, 0).outside).toEqual([]);
    expect(agreement(computed, 'rotb_nonstrict', 3, 0).outside).toEqual([]);
    const logp = agreement(computed, 'logp', 4, 1e-4);
    console.log(
      `logP vs PP_descrs_regress.2: ${(100 * logp.within).toFixed(1)}% within 1e-4 of ${logp.n}; the rest are ` +
        `aromatic lactams typed differently by older RDKit: ${JSON.stringify(logp.outside)}`,
    );
    expect(logp.within).toBeGreaterThanOrEqual(0.98);
    expectPeerAgrees(logp.outside, 'logp', 1e-5);
  });

  it('Lipinski: NCI_regress (non-strict rotors exact; HBA/HBD as RDKit computes them today)', () => {
    const { computed, unparseable } = compute(
      referenceRows('rdkit_NCI_regress_Lipinski.csv', /,/, 1),
      [1, 2, 4],
      ['hba', 'hbd', 'rotb_nonstrict'],
    );
    const rotors = agreement(computed, 'rotb_nonstrict', 2, 0);
    const hba = agreement(computed, 'hba', 0, 0);
    const hbd = agreement(computed, 'hbd', 1, 0);
    console.log(
      `NCI_regress.Lip: ${computed.length} molecules (${unparseable} unparseable); rotatable bonds ${(100 * rotors.within).toFixed(1)}%, ` +
        `HBA ${(100 * hba.within).toFixed(1)}% (file counts F as acceptor, a pre-2008 definition), HBD ${(100 * hbd.within).toFixed(1)}%`,
    );
    expect(rotors.outside).toEqual([]);
    expect(hbd.within).toBeGreaterThan(0.99);
    // Every HBD disagreement and a sample of the HBA ones must be RDKit 2022's own values.
    expectPeerAgrees(hbd.outside, 'hbd', 0);
    expectPeerAgrees(hba.outside.slice(0, 300), 'hba', 0);
  });
});
