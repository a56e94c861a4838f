/**
 * The RDKit MinimalLib layer (server/molecules/rdkit.ts) and the TypeScript Morgan fingerprint
 * (server/molecules/morgan.ts): parsing never throws past its API, molecules are freed, and fingerprints,
 * Tanimoto and SMARTS counts equal Python RDKit's on real molecules.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { RDKitModule } from '../../server/molecules/rdkit';
import {
  canonicalizeSmiles,
  compileSmarts,
  depictSvg,
  loadRDKit,
  MAX_SMILES_LENGTH,
  MoleculeParseError,
  moleculeGraph,
  morganFingerprint,
  parseSmiles,
  parseSmilesToMol,
  popcount,
  tanimoto,
  withMolecule,
} from '../../server/molecules/rdkit';
import {
  peerMorganBits,
  peerMorganCounts,
  peerSmartsCounts,
  readSmilesColumn,
  requireRdkitPeer,
  sharedDataFile,
} from '../support/rdkitPeer';
import { fragmentCounts } from '../../server/molecules/saScore';

let rdkit: RDKitModule;
let library: string[];

beforeAll(async () => {
  requireRdkitPeer();
  rdkit = await loadRDKit();
  // Drug-like (ZINC), small strained (QM9) and assorted NCI molecules: charges, isotopes, metals, stereo.
  library = [
    ...readSmilesColumn(sharedDataFile('molecules/jtvae_zinc_test_5k.smi'), 600),
    ...readSmilesColumn(sharedDataFile('molecules/qm9_all_smiles_graphvae.txt'), 300),
    ...readSmilesColumn(sharedDataFile('reference/rdkit_qed_NCI_5000.csv'), 401, 0, /,/).slice(1),
  ];
});

describe('loading and parsing', () => {
  it('loads RDKit once per process', async () => {
    expect(await loadRDKit()).toBe(rdkit);
    expect(rdkit.version()).toMatch(/^20\d\d\.\d\d/);
  });

  it('canonicalises valid SMILES and gives a per-molecule reason for invalid ones, without throwing', () => {
    const results = canonicalizeSmiles(rdkit, [
      'OCC',
      'C1CC',
      'CC(C)(C)(C)(C)C',
      'c1cccc1',
      '',
      'CCO ethanol',
      '{"molecules":[]}',
      'C'.repeat(MAX_SMILES_LENGTH + 1),
      'M  END',
      'c1ccccc1',
    ]);
    expect(results.map((result) => result.valid)).toEqual([
      true,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      true,
    ]);
    expect(results[0]).toEqual({ valid: true, input: 'OCC', canonical: 'CCO' });
    const reasons = results.map((result) => (result.valid ? '' : result.error));
    expect(reasons[1]).toMatch(/unclosed ring/);
    expect(reasons[2]).toMatch(/valence/i);
    expect(reasons[3]).toMatch(/kekulize/i);
    expect(reasons[4]).toBe('empty SMILES');
    expect(reasons[5]).toMatch(/whitespace/);
    expect(reasons[6]).toMatch(/JSON/);
    expect(reasons[7]).toMatch(/exceeds the limit/);
    expect(reasons[8]).toMatch(/whitespace/);
    // A non-string (e.g. from untyped JSON) is an invalid molecule too, not a crash.
    expect(parseSmiles(rdkit, 42 as unknown as string)).toMatchObject({ valid: false });
  });

  it('frees the molecule when the callback throws', () => {
    let seen: ReturnType<typeof parseSmilesToMol> | undefined;
    expect(() =>
      withMolecule(rdkit, 'CCO', (mol) => {
        seen = mol;
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(seen!.isDeleted()).toBe(true);
    expect(() => withMolecule(rdkit, 'C1CC', () => 1)).toThrow(MoleculeParseError);
  });

  it('survives a long stream of mixed valid and invalid input', () => {
    // 20k parses: a leak of one molecule per parse or a crash on bad input would show here.
    const inputs = Array.from({ length: 20_000 }, (_, i) =>
      i % 3 === 0 ? 'C1CC(' : library[i % library.length],
    );
    const valid = canonicalizeSmiles(rdkit, inputs).filter((result) => result.valid).length;
    expect(valid).toBe(inputs.filter((_, i) => i % 3 !== 0).length);
  });
});

describe('graph, fingerprints and similarity', () => {
  it('reads the molecular graph: aromaticity, Kekulé orders, hydrogens, charges, isotopes, rings', () => {
    const graph = withMolecule(rdkit, 'c1ccccc1C(=O)[O-].[13CH4]', (mol) => moleculeGraph(mol));
    expect(graph.atoms.filter((atom) => atom.aromatic)).toHaveLength(6);
    expect(graph.bonds.filter((bond) => bond.type === 12)).toHaveLength(6);
    expect(graph.bonds.filter((bond) => bond.type === 12 && bond.kekuleOrder === 2)).toHaveLength(3);
    expect(graph.atoms.find((atom) => atom.formalCharge === -1)?.atomicNumber).toBe(8);
    expect(graph.atoms.find((atom) => atom.isotope === 13)?.hydrogens).toBe(4);
    expect(graph.atomRings).toHaveLength(1);
  });

  it("computes RDKit's unfolded Morgan identifiers exactly (the SA score's fragment keys)", () => {
    const isotopes = [
      '[2H]C([2H])([2H])C(=O)O',
      'C[13C](=O)N',
      'O=C([O-])c1ccccc1.[Na+]',
      'F/C=C/F',
      'C[C@H](N)O',
    ];
    const molecules = [...library, ...isotopes];
    const expected = peerMorganCounts(molecules, 2);
    let identical = 0;
    molecules.forEach((smiles, index) => {
      const counts = withMolecule(rdkit, smiles, (mol) => fragmentCounts(rdkit, moleculeGraph(mol)));
      const ours = [...counts.entries()].sort((a, b) => a[0] - b[0]);
      if (JSON.stringify(ours) === JSON.stringify(expected[index])) identical++;
      else console.log(`Morgan counts differ for ${smiles}`);
    });
    expect(identical).toBe(molecules.length);
  });

  it('gives the same Morgan bit vectors and Tanimoto similarities as RDKit', () => {
    const molecules = library.slice(0, 400);
    const peer = peerMorganBits(molecules, 2, 2048);
    const fingerprints = molecules.map((smiles) =>
      withMolecule(rdkit, smiles, (mol) => morganFingerprint(mol)),
    );
    fingerprints.forEach((fingerprint, index) => {
      const bits: number[] = [];
      for (let bit = 0; bit < 2048; bit++) if ((fingerprint[bit >> 3] >> (bit & 7)) & 1) bits.push(bit);
      expect(bits).toEqual(peer.bits[index]);
      expect(popcount(fingerprint)).toBe(peer.bits[index].length);
    });
    let maxDifference = 0;
    for (let i = 0; i + 1 < fingerprints.length; i++) {
      maxDifference = Math.max(
        maxDifference,
        Math.abs(tanimoto(fingerprints[i], fingerprints[i + 1]) - peer.tanimotoToNext[i]),
      );
    }
    console.log(
      `Tanimoto (Morgan r=2, 2048 bits), ${fingerprints.length - 1} pairs: max |ours − RDKit| = ${maxDifference}`,
    );
    expect(maxDifference).toBeLessThan(1e-12);
    expect(tanimoto(fingerprints[0], fingerprints[0])).toBe(1);
  });
});

describe('SMARTS and depiction', () => {
  it('counts unique SMARTS matches like RDKit', () => {
    const patterns = [
      '[#6]=[#8]',
      'c1ccccc1',
      '[NX3;H2,H1;!$(NC=O)]',
      '[$([CX3](=O)[OX2H1]),$([CX3](=O)[OX1-])]',
      '[R2]',
      '*',
    ];
    const molecules = library.slice(0, 300);
    const expected = peerSmartsCounts(molecules, patterns);
    const queries = patterns.map((smarts) => compileSmarts(rdkit, smarts));
    try {
      molecules.forEach((smiles, index) => {
        const counts = withMolecule(rdkit, smiles, (mol) => queries.map((query) => query.countMatches(mol)));
        expect(counts, smiles).toEqual(expected[index]);
        const matches = withMolecule(rdkit, smiles, (mol) => queries.map((query) => query.matches(mol)));
        expect(matches).toEqual(expected[index].map((count) => count > 0));
      });
    } finally {
      for (const query of queries) query.dispose();
    }
    expect(() => compileSmarts(rdkit, '[C;X4(')).toThrow(/invalid SMARTS/);
    const query = compileSmarts(rdkit, 'C');
    query.dispose();
    expect(() => withMolecule(rdkit, 'C', (mol) => query.matches(mol))).toThrow(/after dispose/);
  });

  it('draws SVG depictions, with highlights', () => {
    const svg = depictSvg(rdkit, 'CC(=O)Oc1ccccc1C(=O)O', { width: 240, height: 180 });
    expect(svg).toMatch(/^<\?xml/);
    expect(svg).toContain("width='240px'");
    const highlighted = depictSvg(rdkit, 'CC(=O)Oc1ccccc1C(=O)O', { highlightSmarts: 'C(=O)[OH]' });
    expect(highlighted).not.toBe(depictSvg(rdkit, 'CC(=O)Oc1ccccc1C(=O)O'));
    expect(() => depictSvg(rdkit, 'C1CC')).toThrow(MoleculeParseError);
    expect(() => depictSvg(rdkit, 'CC', { width: 10_000 })).toThrow(/between 16 and 4096/);
  });
});
