/**
 * Fragments and the fragment-assembly MDP (server/molecules/fragments.ts, DESIGN.md §6): the BRICS-like
 * cleavage cuts what its rule set says and never a ring, fragments re-join into the original molecule,
 * joins fail clearly, and the MDP's molecules are valid, carry their own φ, and feed the pbrl engine's
 * Frank–Wolfe design.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  designQuery,
  enumeratePaths,
  pathFeatures,
  randomPath,
  scaledIdentity,
} from '../../server/engines/pbrl';
import { createRng } from '../../server/engines/random';
import {
  assembleMolecule,
  attachmentLabels,
  attachmentsCompatible,
  canonicalWithoutStereo,
  fragmentAssemblyMdp,
  FragmentJoinError,
  fragmentLibrary,
  fragmentMolecule,
  LINK_STRIDE,
  rawFeatureFunction,
  STOP_ACTION,
  type FragmentLibrary,
} from '../../server/molecules/fragments';
import {
  cycleRank,
  loadRDKit,
  MoleculeParseError,
  moleculeGraph,
  parseSmiles,
  withMolecule,
  type RDKitModule,
} from '../../server/molecules/rdkit';
import { DEFAULT_DRUGS } from '../../server/preferences/data/drugs';
import { readSmilesColumn, sharedDataFile } from '../support/rdkitPeer';

let rdkit: RDKitModule;
let zinc: string[];
const drugs = DEFAULT_DRUGS.map((drug) => drug.smiles);

beforeAll(async () => {
  rdkit = await loadRDKit();
  zinc = readSmilesColumn(sharedDataFile('molecules/jtvae_zinc_valid_24k.smi'), 200);
});

const canonical = (smiles: string) => {
  const parsed = parseSmiles(rdkit, smiles);
  if (!parsed.valid) throw new Error(`test SMILES ${smiles} is invalid: ${parsed.error}`);
  return parsed.canonical;
};
const sortedCanonical = (list: readonly string[]) => list.map(canonical).sort();

/** Rings (cycle rank) and heavy atoms (dummies excluded) of a SMILES. */
function ringsAndHeavyAtoms(smiles: string): { rings: number; heavy: number } {
  return withMolecule(rdkit, smiles, (mol) => {
    const graph = moleculeGraph(mol);
    return { rings: cycleRank(graph), heavy: graph.atoms.filter((atom) => atom.atomicNumber > 1).length };
  });
}

describe('cleavage', () => {
  it('splits an amide into its acid and amine parts', () => {
    expect(sortedCanonical(fragmentMolecule(rdkit, 'CCCC(=O)N1CCCCC1').fragments)).toEqual(
      sortedCanonical(['CCCC([1*])=O', '[7*]N1CCCCC1']),
    );
    expect(sortedCanonical(fragmentMolecule(rdkit, 'CC(=O)N(C)C').fragments)).toEqual(
      sortedCanonical(['CC([1*])=O', 'CN(C)[2*]']),
    );
  });

  it('splits a biphenyl into two phenyls, and ethers, esters, sulfonamides and thioethers as documented', () => {
    const cases: [string, string[]][] = [
      ['c1ccc(-c2ccccc2)cc1', ['[5*]c1ccccc1', '[5*]c1ccccc1']],
      ['COc1ccccc1', ['CO[3*]', '[5*]c1ccccc1']],
      // Ester: the O is cut on both sides (a linker of its own), the carbonyl from the ring too.
      ['CCOC(=O)c1ccccc1', ['CC[4*]', '[3*]O[3*]', 'O=C([1*])[1*]', '[5*]c1ccccc1']],
      ['CS(=O)(=O)N1CCCC1', ['CS(=O)(=O)[8*]', '[7*]N1CCCC1']],
      ['CSCc1ccccc1', ['CS[9*]', '[4*]C[4*]', '[5*]c1ccccc1']],
      ['CC(=O)Nc1ccc(O)cc1', ['CC(=O)[1*]', '[2*]N[2*]', 'Oc1ccc([5*])cc1']],
      ['c1ccc(N2CCNCC2)cc1', ['[5*]c1ccccc1', '[7*]N1CCNCC1']],
    ];
    for (const [smiles, expected] of cases) {
      expect(sortedCanonical(fragmentMolecule(rdkit, smiles).fragments), smiles).toEqual(
        sortedCanonical(expected),
      );
    }
  });

  it('leaves terminal atoms, chain C–C bonds, fused rings and unlisted environments whole', () => {
    for (const smiles of [
      'Cc1ccccc1',
      'Clc1ccccc1',
      'Oc1ccccc1',
      'Nc1ccccc1',
      'N#Cc1ccccc1',
      'C=Cc1ccccc1',
      'CCCCCC',
      'CCC(=O)CC',
      'c1ccc2ccccc2c1',
      'C1CCC2(CC1)CCNC2',
    ]) {
      const fragmentation = fragmentMolecule(rdkit, smiles);
      expect(fragmentation.cuts, smiles).toBe(0);
      expect(fragmentation.fragments).toEqual([canonical(smiles)]);
    }
  });

  it('never cuts a ring bond and loses no atom (drugs and ZINC)', () => {
    for (const smiles of [...drugs, ...zinc.slice(0, 100)]) {
      const { fragments, cuts } = fragmentMolecule(rdkit, smiles);
      const whole = ringsAndHeavyAtoms(smiles);
      const parts = fragments.map(ringsAndHeavyAtoms);
      // Cutting a ring bond would lower the total cycle rank by one; cutting a bridge keeps it.
      expect(
        parts.reduce((sum, part) => sum + part.rings, 0),
        smiles,
      ).toBe(whole.rings);
      expect(
        parts.reduce((sum, part) => sum + part.heavy, 0),
        smiles,
      ).toBe(whole.heavy);
      expect(fragments.length, smiles).toBe(cuts + 1);
      const labels = fragments.flatMap((fragment) => attachmentLabels(rdkit, fragment));
      expect(labels.length).toBe(2 * cuts);
      for (const label of labels) expect(label >= 1 && label <= 9).toBe(true);
    }
  });

  it('labels every cut with a compatible pair, and refuses bad input', () => {
    const { linked } = fragmentMolecule(rdkit, 'CC(=O)Nc1ccc(OCC2CC2)cc1');
    const byLink = new Map<number, number[]>();
    for (const fragment of linked) {
      for (const isotope of attachmentLabels(rdkit, fragment)) {
        const link = Math.floor(isotope / LINK_STRIDE);
        byLink.set(link, [...(byLink.get(link) ?? []), isotope % LINK_STRIDE]);
      }
    }
    // C(=O)–N, N–c, c–O, O–CH2, CH2–ring.
    expect(byLink.size).toBe(5);
    for (const [a, b] of byLink.values()) expect(attachmentsCompatible(a, b)).toBe(true);
    expect(() => fragmentMolecule(rdkit, 'C1CC')).toThrow(MoleculeParseError);
    expect(() => fragmentMolecule(rdkit, '[5*]c1ccccc1')).toThrow(FragmentJoinError);
  });
});

describe('joining', () => {
  it('re-joins the fragments of every drug and ZINC molecule into the original canonical SMILES', () => {
    let withoutStereo = 0;
    for (const smiles of [...drugs, ...zinc]) {
      const fragmentation = fragmentMolecule(rdkit, smiles);
      expect(assembleMolecule(rdkit, fragmentation.linked), smiles).toBe(fragmentation.smiles);
      expect(fragmentation.smiles).toBe(canonicalWithoutStereo(rdkit, smiles));
      if (!/[@/\\]/.test(smiles)) {
        withoutStereo++;
        expect(fragmentation.smiles, smiles).toBe(canonical(smiles));
      }
    }
    expect(withoutStereo).toBeGreaterThan(100);
  });

  it('joins fragments greedily at the first compatible open attachment point and caps the rest with H', () => {
    expect(assembleMolecule(rdkit, ['[1*]C(=O)CCC', '[7*]N1CCCCC1'])).toBe(canonical('CCCC(=O)N1CCCCC1'));
    expect(assembleMolecule(rdkit, ['[5*]c1ccccc1', '[5*]c1ccccc1'])).toBe(canonical('c1ccc(-c2ccccc2)cc1'));
    expect(assembleMolecule(rdkit, ['[5*]c1ccc([5*])cc1', '[5*]c1ccccc1', '[3*]OC'])).toBe(
      canonical('COc1ccc(-c2ccccc2)cc1'),
    );
    expect(assembleMolecule(rdkit, ['[5*]c1ccc([5*])cc1'])).toBe('c1ccccc1');
    expect(assembleMolecule(rdkit, ['[5*]c1ccc([5*])cc1', '[2*]N(C)C'], { cap: false })).toBe(
      canonical('CN(C)c1ccc([5*])cc1'),
    );
    // A bare * joins anything; charges and aromatic N–H survive.
    expect(assembleMolecule(rdkit, ['*c1ccccc1', '[3*]OC'])).toBe(canonical('COc1ccccc1'));
    expect(assembleMolecule(rdkit, ['[4*]C[NH+](C)C', '[5*]c1cc[nH]c1'])).toBe(
      canonical('C[NH+](C)Cc1cc[nH]c1'),
    ); // An open sulfonyl point is capped as a primary sulfonamide, not as –SO₂H.
    expect(assembleMolecule(rdkit, ['[8*]S(=O)(=O)c1ccccc1'])).toBe(canonical('NS(=O)(=O)c1ccccc1'));
  });

  it('explains impossible joins', () => {
    expect(() => assembleMolecule(rdkit, [])).toThrow(/no fragments/);
    expect(() => assembleMolecule(rdkit, ['[3*]OC', '[3*]OC'])).toThrow(/fits no open attachment point/);
    expect(assembleMolecule(rdkit, ['[3*]OC', '[3*]OC'], { compatibility: 'any' })).toBe('COOC');
    expect(() => assembleMolecule(rdkit, ['[5*]c1ccccc1', 'CCO'])).toThrow(/has no attachment point/);
    expect(() => assembleMolecule(rdkit, ['[5*]c1ccccc1', '[5*]c1ccccc1', '[5*]c1ccccc1'])).toThrow(
      /no open attachment point is left/,
    );
    expect(() => assembleMolecule(rdkit, ['*=C', '[5*]c1ccccc1'])).toThrow(/order 2 and 1/);
    expect(() => assembleMolecule(rdkit, ['[105*]c1ccccc1', '[105*]c1ccccc1', '[105*]C'])).toThrow(
      /link 1 has 3 attachment points/,
    );
    expect(() => assembleMolecule(rdkit, ['[105*]c1ccccc1', '[105*]c1ccccc1', 'CCO'])).toThrow(
      /2 separate pieces/,
    );
    expect(() => assembleMolecule(rdkit, ['[5*]c1cccc'])).toThrow(MoleculeParseError);
    for (const bad of [
      ['[3*]OC', '[3*]OC'],
      ['*=C', '*C'],
    ]) {
      expect(() => assembleMolecule(rdkit, bad)).toThrow(FragmentJoinError);
    }
  });
});

describe('fragment library', () => {
  it('counts distinct fragments, keeps the most frequent and classifies them', () => {
    const full = fragmentLibrary(rdkit, drugs, { maxFragments: Number.POSITIVE_INFINITY });
    expect(full.sourceMolecules).toBe(drugs.length);
    expect(full.skipped).toEqual([]);
    expect(full.fragments.length).toBe(full.distinctFragments);
    const pieces = drugs.flatMap((smiles) =>
      fragmentMolecule(rdkit, smiles).fragments.filter((fragment) => fragment.includes('*')),
    );
    expect(full.fragments.reduce((sum, fragment) => sum + fragment.count, 0)).toBe(pieces.length);
    expect(new Set(full.fragments.map((fragment) => fragment.smiles)).size).toBe(full.fragments.length);
    for (const [i, fragment] of full.fragments.entries()) {
      if (i > 0) expect(fragment.count).toBeLessThanOrEqual(full.fragments[i - 1].count);
      expect(fragment.smiles).toBe(canonical(fragment.smiles));
      expect(fragment.molecules).toBeLessThanOrEqual(fragment.count);
      expect(fragment.attachments).toBe(fragment.labels.length);
      expect(fragment.kind).toBe(fragment.attachments >= 2 ? 'core' : 'cap');
    }
    expect(full.cores.length + full.caps.length).toBe(full.fragments.length);
    expect(full.cores.length).toBeGreaterThan(5);
    expect(full.caps.length).toBeGreaterThan(5);
    const phenyl = full.fragments.find((fragment) => fragment.smiles === '[5*]c1ccccc1');
    expect(phenyl?.kind).toBe('cap');

    const top = fragmentLibrary(rdkit, drugs, { maxFragments: 10 });
    expect(top.fragments).toEqual(full.fragments.slice(0, 10));
    const frequent = fragmentLibrary(rdkit, drugs, { minCount: 5, maxHeavyAtoms: 6 });
    expect(frequent.fragments.length).toBeGreaterThan(0);
    for (const fragment of frequent.fragments) {
      expect(fragment.count).toBeGreaterThanOrEqual(5);
      expect(fragment.heavyAtoms).toBeLessThanOrEqual(6);
    }
  });

  it('skips invalid molecules with a reason', () => {
    const library = fragmentLibrary(rdkit, ['CCOc1ccccc1', 'C1CC', 'Cc1ccccc1']);
    expect(library.sourceMolecules).toBe(2);
    expect(library.uncut).toBe(1);
    expect(library.skipped).toHaveLength(1);
    expect(library.skipped[0].index).toBe(1);
    expect(library.skipped[0].reason).toMatch(/ring|unclosed/i);
  });
});

describe('fragment-assembly MDP', () => {
  let library: FragmentLibrary;
  beforeAll(() => {
    library = fragmentLibrary(rdkit, zinc.slice(0, 50), { maxFragments: 100 });
  });

  it('builds a valid MDP whose every molecule is RDKit-valid and carries its own φ on the last step', () => {
    const raw = rawFeatureFunction(rdkit);
    const built = fragmentAssemblyMdp(rdkit, library, {
      horizon: 3,
      vocab: 4,
      features: raw,
      standardize: true,
    });
    const { mdp } = built;
    expect(mdp.horizon).toBe(3);
    expect(mdp.vocab).toBe(4);
    expect(mdp.dim).toBe(18);
    expect(mdp.stateCounts[0]).toBe(1);
    expect(mdp.stateCounts[1]).toBeLessThanOrEqual(4);
    expect(mdp.stateCounts[2]).toBeLessThanOrEqual(16);
    expect(built.invalidJoins).toBe(0);
    expect(built.molecules.length).toBeGreaterThan(10);
    for (const h of [0, 1]) expect(mdp.features[h].every((value) => value === 0)).toBe(true);
    // Step 0 offers fragments with a ring; later steps offer "stop" first.
    const rings = new Map(library.fragments.map((fragment) => [fragment.smiles, fragment.rings]));
    for (const fragment of built.actions[0]) expect(rings.get(fragment!)).toBeGreaterThan(0);
    built.states[1].forEach((_, s) => expect(built.actions[1][s * 4]).toBe(STOP_ACTION));

    const { mean, sd } = built.normalization!;
    const rng = createRng(7);
    for (let walk = 0; walk < 100; walk++) {
      const path = randomPath(mdp, rng);
      const molecule = built.molecule(path);
      expect(molecule).not.toContain('*');
      expect(canonical(molecule)).toBe(molecule);
      const expected = Array.from(raw(molecule), (value, j) => (value - mean[j]) / sd[j]);
      const phi = pathFeatures(mdp, path);
      expected.forEach((value, j) => expect(phi[j]).toBeCloseTo(value, 9));
      const steps = built.steps(path);
      expect(steps[0]).toContain('*');
    }
    // Every complete object of the MDP, not just the sampled ones.
    for (const path of enumeratePaths(mdp))
      expect(canonical(built.molecule(path))).toBe(built.molecule(path));

    // Stopping at once gives the starting fragment with H on its attachment points.
    const short = enumeratePaths(mdp).find((path) => path.actions[1] === 0)!;
    expect(built.molecule(short)).toBe(assembleMolecule(rdkit, [built.steps(short)[0]!]));
  });

  it('is reproducible from its seed, honours the selection rule and caps the state count', () => {
    const features = () => [1, 2];
    const one = fragmentAssemblyMdp(rdkit, library, { horizon: 3, vocab: 4, features, seed: 3 });
    const again = fragmentAssemblyMdp(rdkit, library, { horizon: 3, vocab: 4, features, seed: 3 });
    expect(again.states).toEqual(one.states);
    expect(again.actions).toEqual(one.actions);

    const top = fragmentAssemblyMdp(rdkit, library, {
      horizon: 1,
      vocab: 3,
      features,
      selection: 'frequency',
    });
    const ringed = library.fragments
      .filter((fragment) => fragment.rings > 0)
      .map((fragment) => fragment.smiles);
    expect(top.actions[0]).toEqual(ringed.slice(0, 3));
    expect(top.mdp.stateCounts).toEqual([1]);
    expect(top.finalMolecules).toEqual(
      ringed.slice(0, 3).map((fragment) => assembleMolecule(rdkit, [fragment])),
    );

    expect(() =>
      fragmentAssemblyMdp(rdkit, library, { horizon: 4, vocab: 6, features, maxStates: 10 }),
    ).toThrow(/more than 10 partial molecules/);
    expect(() => fragmentAssemblyMdp(rdkit, { fragments: [] }, { horizon: 2, vocab: 3, features })).toThrow(
      /no fragment/,
    );
  });

  it('gives Frank–Wolfe (design.ts) a query of K valid molecules', () => {
    const built = fragmentAssemblyMdp(rdkit, library, {
      horizon: 3,
      vocab: 4,
      features: rawFeatureFunction(rdkit),
      standardize: true,
      seed: 1,
    });
    const K = 4;
    const query = designQuery(built.mdp, { K, base: scaledIdentity(built.mdp.dim, 2), rng: createRng(11) });
    expect(query.paths).toHaveLength(K);
    const molecules = query.paths.map((path) => built.molecule(path));
    for (const molecule of molecules) expect(canonical(molecule)).toBe(molecule);
    expect(new Set(molecules).size).toBeGreaterThanOrEqual(2);
    expect(Number.isFinite(query.objective)).toBe(true);
    const history = query.frankWolfe.objectiveHistory;
    for (let i = 1; i < history.length; i++) expect(history[i]).toBeGreaterThanOrEqual(history[i - 1]);
  });
});
