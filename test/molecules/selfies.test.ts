/**
 * The SELFIES codec (server/molecules/selfies.ts): the grammar's derivation rules on hand-checked strings,
 * the round trip SMILES → SELFIES → SMILES on real libraries (canonical equality through RDKit), validity of
 * random strings (the grammar's guarantee), and vocabulary / padding / one-hot utilities.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../server/engines/random';
import type { RDKitModule } from '../../server/molecules/rdkit';
import { kekuleSmiles, loadRDKit, parseSmiles, withMolecule } from '../../server/molecules/rdkit';
import {
  argmaxToSelfies,
  buildVocabulary,
  decodeSelfies,
  encodeKekuleSmiles,
  INDEX_ALPHABET,
  indicesToSelfies,
  listedBondingCapacities,
  oneHotSelfies,
  PAD_SYMBOL,
  robustAlphabet,
  SelfiesDecodeError,
  SelfiesEncodeError,
  selfiesToIndices,
  smilesToSelfies,
  splitSelfies,
} from '../../server/molecules/selfies';
import { readSmilesColumn, sharedDataFile } from '../support/rdkitPeer';

let rdkit: RDKitModule;

beforeAll(async () => {
  rdkit = await loadRDKit();
});

/** RDKit canonical SMILES, or the reason it is not a molecule. */
function canonical(smiles: string): string {
  const parsed = parseSmiles(rdkit, smiles);
  return parsed.valid ? parsed.canonical : `INVALID: ${parsed.error}`;
}

interface RoundTripReport {
  molecules: number;
  identical: number;
  /** Molecules SELFIES cannot hold, by category. */
  unrepresentable: Record<string, number>;
  mismatches: string[];
}

function roundTrip(smilesList: readonly string[]): RoundTripReport {
  const report: RoundTripReport = { molecules: 0, identical: 0, unrepresentable: {}, mismatches: [] };
  for (const smiles of smilesList) {
    const parsed = parseSmiles(rdkit, smiles);
    if (!parsed.valid) continue;
    report.molecules++;
    let selfies: string;
    try {
      selfies = smilesToSelfies(rdkit, parsed.canonical);
    } catch (error) {
      if (!(error instanceof SelfiesEncodeError)) throw error;
      report.unrepresentable[error.category] = (report.unrepresentable[error.category] ?? 0) + 1;
      continue;
    }
    const back = canonical(decodeSelfies(selfies));
    if (back === parsed.canonical) report.identical++;
    else report.mismatches.push(`${parsed.canonical} → ${selfies} → ${back}`);
  }
  return report;
}

describe('derivation rules', () => {
  it.each([
    // Atoms: bond orders are lowered to what both atoms can still make (docs, "Atomic symbols").
    ['[C][=C][C][#C][13C]', 'C=CC#C[13C]'],
    ['[C][F][C][C][C][C]', 'CF'],
    ['[C][O][=C][#O][C][F]', 'COC=O'],
    ['[O][=O]', 'O=O'],
    ['[N][#N]', 'N#N'],
    ['[F][=C]', 'FC'],
    // Branches: Q from the index symbols, Q+1 symbols form the branch; skipped in X1.
    ['[C][Branch1][C][F][Cl]', 'C(F)Cl'],
    ['[C][=Branch1][Ring2][=C][C][C][Cl]', 'C(=CCC)Cl'],
    ['[C][=Branch1][Branch1][Branch1][C][C][Cl][F]', 'C(C)(Cl)F'],
    ['[C][Branch1][Branch1][Branch1][C][C][Cl][F]', 'C(CCCl)F'],
    ['[C][O][Branch1][C][F]', 'COCF'],
    ['[C][Branch1][C][F][Branch1][C][F][Branch1][C][F][F]', 'C(F)(F)(F)F'],
    // Rings: a bond to the (Q+1)-th atom before, made after derivation, order lowered to the room left.
    ['[C][=C][C][=C][C][=C][Ring1][=Branch1]', 'C=1C=CC=CC=1'],
    ['[C][C][=Ring1][C]', 'C#C'],
    ['[C][C][C][C][Branch1][C][C][Ring1][Ring2][C][C]', 'C1CCC1(C)CC'],
    ['[C][=C][=C][Ring1][Ring1]', 'C1=C=C1'],
    ['[F][Ring1][C]', 'F'],
    // Padding and fragments.
    ['[nop][C][nop][O][nop]', 'CO'],
    ['[C][O].[Na+1]', 'CO.[Na+]'],
  ])('%s derives %s', (selfies, smiles) => {
    expect(canonical(decodeSelfies(selfies))).toBe(canonical(smiles));
  });

  it('derives nothing from nothing', () => {
    expect(decodeSelfies('')).toBe('');
    expect(decodeSelfies('[nop][Branch1][Ring1]')).toBe('');
  });

  it('keeps stereochemistry: tetrahedral tags and double-bond directions, through branches and rings', () => {
    const cases = [
      'C[C@H](N)C(=O)O',
      'N[C@@H](Cc1ccccc1)C(=O)O',
      'F/C=C/F',
      'F/C=C\\F',
      'C/C=C/C(=O)O',
      'C[C@H]1CC[C@@H](C)N1',
      'C[C@@]12CC[C@H](C1)C2(C)C',
      'O[C@H]1[C@H](O)[C@@H](O)[C@H](O)[C@@H](O)[C@@H]1O',
      'C1CC/C=C/CCC1',
      '[2H][C@@](F)(Cl)Br',
    ];
    for (const smiles of cases) {
      const selfies = smilesToSelfies(rdkit, smiles);
      expect(canonical(decodeSelfies(selfies)), `${smiles} → ${selfies}`).toBe(canonical(smiles));
    }
  });

  it('rejects what it cannot read or hold, with the reason', () => {
    expect(() => decodeSelfies('[C][Xyz]')).toThrow(SelfiesDecodeError);
    expect(() => decodeSelfies('C[O]')).toThrow(/expected "\["/);
    expect(() => decodeSelfies('[C][O')).toThrow(/unclosed/);
    expect(() => decodeSelfies('[CH5]')).toThrow(/unknown symbol/);
    const reason = (smiles: string) => {
      try {
        encodeKekuleSmiles(smiles);
        return 'encoded';
      } catch (error) {
        return error instanceof SelfiesEncodeError ? `${error.category}: ${error.reason}` : String(error);
      }
    };
    expect(reason('c1ccccc1')).toMatch(/^syntax: aromatic/);
    expect(reason('C*')).toMatch(/^syntax: wildcard/);
    expect(reason('[CH3:1]C')).toMatch(/^syntax: atom classes/);
    expect(reason('FI(F)F')).toMatch(/^capacity: I \(atom 1\) makes 3 bonds, capacity 1/);
    expect(reason('C[N+2]C')).toMatch(/^charge state/);
    expect(reason('C1CC')).toMatch(/^syntax: unclosed ring/);
  });
});

describe('round trip SMILES → SELFIES → SMILES on real libraries', () => {
  it.each([
    ['ZINC (JT-VAE test set, first 2000)', 'molecules/jtvae_zinc_test_5k.smi', 2000],
    ['QM9 (first 2000)', 'molecules/qm9_all_smiles_graphvae.txt', 2000],
  ])('%s: every representable molecule comes back identical', (label, file, count) => {
    const report = roundTrip(readSmilesColumn(sharedDataFile(file), count));
    console.log(
      `${label}: ${report.identical}/${report.molecules} identical, unrepresentable ${JSON.stringify(report.unrepresentable)}`,
    );
    expect(report.mismatches).toEqual([]);
    expect(report.molecules).toBe(count);
    expect(report.identical).toBe(count);
  });

  it('MoleculeNet BBBP (salts, charges, stereo; first 600): identical or a counted reason', () => {
    const smiles = readSmilesColumn(sharedDataFile('molecules/moleculenet_bbbp.csv'), 601, 3, /,/).slice(1);
    const report = roundTrip(smiles);
    console.log(
      `BBBP: ${report.identical}/${report.molecules} identical, unrepresentable ${JSON.stringify(report.unrepresentable)}`,
    );
    expect(report.mismatches).toEqual([]);
    const unrepresentable = Object.values(report.unrepresentable).reduce((a, b) => a + b, 0);
    expect(report.identical + unrepresentable).toBe(report.molecules);
    expect(report.identical / report.molecules).toBeGreaterThan(0.99);
  });
});

describe('every SELFIES is a molecule', () => {
  it('bonding capacities never exceed what RDKit accepts', () => {
    for (const { element, charge, capacity } of listedBondingCapacities()) {
      const atom = `[${element}${charge === 0 ? '' : `${charge > 0 ? '+' : '-'}${Math.abs(charge)}`}]`;
      for (let bonds = 0; bonds <= capacity; bonds++) {
        const smiles = atom + '(C)'.repeat(bonds);
        expect(parseSmiles(rdkit, smiles).valid, smiles).toBe(true);
      }
      if (capacity >= 2) expect(parseSmiles(rdkit, `C=${atom}`).valid, `C=${atom}`).toBe(true);
    }
  });

  it('random strings over a training vocabulary and over the robust alphabet all decode to valid molecules', () => {
    const training = readSmilesColumn(sharedDataFile('molecules/jtvae_zinc_test_5k.smi'), 300).map((smiles) =>
      smilesToSelfies(rdkit, smiles),
    );
    const alphabets: [string, readonly string[]][] = [
      ['ZINC vocabulary', buildVocabulary(training).symbols],
      ['robust alphabet', robustAlphabet()],
    ];
    const rng = createRng(2024);
    for (const [label, alphabet] of alphabets) {
      let invalid = 0;
      let atoms = 0;
      const strings = 4000;
      for (let i = 0; i < strings; i++) {
        const length = 1 + rng.int(120);
        const symbols = Array.from({ length }, () => alphabet[rng.int(alphabet.length)]);
        const smiles = decodeSelfies(symbols);
        if (smiles === '') continue; // only [nop] / skipped symbols: the empty molecule
        const parsed = withMolecule(rdkit, smiles, (mol) => mol.get_num_atoms());
        atoms += parsed;
        if (!(parsed > 0)) invalid++;
      }
      console.log(
        `${label} (${alphabet.length} symbols): ${strings} random strings, ${invalid} invalid, mean ${(atoms / strings).toFixed(1)} atoms`,
      );
      expect(invalid).toBe(0);
    }
  });
});

describe('vocabulary, padding, one-hot', () => {
  const selfies = ['[C][=O]', '[C][C][O]', '[N][#C]'];

  it('builds a deterministic vocabulary with [nop] first and the index alphabet included', () => {
    const vocabulary = buildVocabulary(selfies);
    expect(vocabulary.symbols[0]).toBe(PAD_SYMBOL);
    expect(buildVocabulary([...selfies].reverse()).symbols).toEqual(vocabulary.symbols);
    for (const symbol of [...INDEX_ALPHABET, '[=O]', '[#C]'])
      expect(vocabulary.indexOf.has(symbol)).toBe(true);
    expect(new Set(vocabulary.symbols).size).toBe(vocabulary.symbols.length);
    expect(splitSelfies('[C][O].[Na+1]')).toEqual(['[C]', '[O]', '.', '[Na+1]']);
  });

  it('pads, one-hot encodes and decodes by argmax back to the same strings', () => {
    const vocabulary = buildVocabulary(selfies);
    const length = 5;
    const indices = selfiesToIndices('[C][=O]', vocabulary, length);
    expect(Array.from(indices.slice(2))).toEqual([0, 0, 0]);
    expect(indicesToSelfies(indices, vocabulary)).toBe('[C][=O]');
    const oneHot = oneHotSelfies(selfies, vocabulary, length);
    const size = vocabulary.symbols.length;
    expect(oneHot.length).toBe(selfies.length * length * size);
    for (let row = 0; row < selfies.length * length; row++) {
      expect(oneHot.slice(row * size, (row + 1) * size).reduce((a, b) => a + b, 0)).toBe(1);
    }
    // A relaxed sample (noise added to the one-hot rows) decodes by argmax to the same strings.
    const rng = createRng(5);
    const relaxed = oneHot.map((value) => value + 0.4 * rng.uniform());
    expect(argmaxToSelfies(relaxed, selfies.length, length, vocabulary)).toEqual(selfies);
    expect(() => selfiesToIndices('[C][C][C][C][C][C]', vocabulary, length)).toThrow(/more than the length/);
    expect(() => selfiesToIndices('[Cl]', vocabulary, length)).toThrow(/not in the vocabulary/);
  });
});

it('encodes equal molecules to equal SELFIES whatever SMILES they came as', () => {
  const forms = ['OC(=O)c1ccccc1O', 'c1ccc(c(c1)C(=O)O)O', 'O=C(O)C1=C(O)C=CC=C1'];
  const encoded = new Set(forms.map((smiles) => smilesToSelfies(rdkit, smiles)));
  expect(encoded.size).toBe(1);
  const [only] = encoded;
  expect(canonical(decodeSelfies(only))).toBe(canonical(forms[0]));
  expect(withMolecule(rdkit, forms[0], (mol) => kekuleSmiles(mol))).not.toMatch(/[cnos]/);
});
