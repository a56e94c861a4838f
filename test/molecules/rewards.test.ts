/**
 * Molecular rewards (server/molecules/rewards.ts): specs validated with clear errors, invalid molecules at
 * the stated floor, leaves equal to the properties they name, combinators by their formulas, Tanimoto and
 * PAINS / MCF filters equal to RDKit's on real molecules.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MoleculeContext } from '../../server/molecules/properties';
import type { RDKitModule } from '../../server/molecules/rdkit';
import { loadRDKit, withMolecule } from '../../server/molecules/rdkit';
import type { CompiledMolecularReward, MolecularRewardSpec } from '../../server/molecules/rewards';
import {
  compileMolecularReward,
  describeReward,
  evaluateMolecularReward,
  molecularRewardSchema,
  PRESET_REWARD_NAMES,
} from '../../server/molecules/rewards';
import {
  peerMorganBits,
  peerMosesFilters,
  readSmilesColumn,
  requireRdkitPeer,
  sharedDataFile,
} from '../support/rdkitPeer';

let rdkit: RDKitModule;
const compiled: CompiledMolecularReward[] = [];

async function reward(spec: unknown, invalidValue?: number): Promise<CompiledMolecularReward> {
  const result = await compileMolecularReward(spec, { invalidValue });
  compiled.push(result);
  return result;
}

const property = (name: string): MolecularRewardSpec =>
  ({ kind: 'property', property: name }) as MolecularRewardSpec;

beforeAll(async () => {
  rdkit = await loadRDKit();
});

afterAll(() => {
  for (const one of compiled) one.dispose();
});

describe('specs', () => {
  it('rejects malformed specs, bad SMARTS and bad reference molecules with a message naming the part', async () => {
    await expect(compileMolecularReward({ kind: 'property', property: 'charm' })).rejects.toThrow(
      /invalid molecular reward/,
    );
    await expect(compileMolecularReward({ kind: 'weighted_sum', terms: [] })).rejects.toThrow(/terms/);
    await expect(
      compileMolecularReward({
        kind: 'desirability',
        of: property('qed'),
        shape: { type: 'increasing', low: 1, high: 0 },
      }),
    ).rejects.toThrow(/low must be below high/);
    await expect(compileMolecularReward({ kind: 'smarts', mustHave: ['[C;X4('] })).rejects.toThrow(
      /mustHave: invalid SMARTS/,
    );
    await expect(compileMolecularReward({ kind: 'smarts' })).rejects.toThrow(/at least one SMARTS/);
    await expect(compileMolecularReward({ kind: 'similarity', references: ['CCO', 'C1CC'] })).rejects.toThrow(
      /similarity reference 2/,
    );
    let deep: MolecularRewardSpec = property('qed');
    for (let i = 0; i < 20; i++) deep = { kind: 'product', factors: [deep] };
    await expect(compileMolecularReward(deep)).rejects.toThrow(/nested more than/);
    expect(molecularRewardSchema.parse({ reward: property('qed') }).invalidValue).toBe(0);
  });

  it('gives invalid SMILES the stated floor, reports why, and computes duplicates once', async () => {
    const logp = await reward(property('logp'), -10);
    const result = logp.evaluateDetailed(['CCO', 'C1CC', '', 'CCO', 'not a smiles']);
    expect(Array.from(result.valid)).toEqual([1, 0, 0, 1, 0]);
    expect(result.values[1]).toBe(-10);
    expect(result.values[2]).toBe(-10);
    expect(result.values[0]).toBeCloseTo(-0.0014, 4);
    expect(result.values[3]).toBe(result.values[0]);
    expect(result.errors[1]).toMatch(/unclosed ring/);
    logp.dispose();
    expect(() => logp.evaluate(['CCO'])).toThrow(/after dispose/);
  });
});

describe('leaves and combinators', () => {
  const molecules = [
    'CC(=O)Oc1ccccc1C(=O)O',
    'CN1CCC[C@H]1c1cccnc1',
    'O=C(O)CCCCCCCCCCCCCCCCC',
    'c1ccc2ccccc2c1',
  ];

  it('property leaves equal the molecule properties', async () => {
    for (const name of [
      'qed',
      'sa',
      'logp',
      'tpsa',
      'mw',
      'hba',
      'hbd',
      'rotb',
      'heavy',
      'rings',
      'aromatic_rings',
    ]) {
      const values = (await reward(property(name))).evaluate(molecules);
      molecules.forEach((smiles, index) => {
        const expected = withMolecule(rdkit, smiles, (mol) =>
          new MoleculeContext(rdkit, mol).property(name as 'qed'),
        );
        expect(values[index], `${name} of ${smiles}`).toBe(expected);
      });
    }
  });

  it('desirability, threshold, weighted sum and product follow their formulas', async () => {
    const qed = (await reward(property('qed'))).evaluate(molecules);
    const sa = (await reward(property('sa'))).evaluate(molecules);
    const mw = (await reward(property('mw'))).evaluate(molecules);
    const synthesizability = Array.from(sa, (value) => Math.min(1, Math.max(0, (10 - value) / 9)));
    const combined = await reward({
      kind: 'weighted_sum',
      offset: 0.1,
      terms: [
        { weight: 0.5, reward: property('qed') },
        {
          weight: 0.5,
          reward: {
            kind: 'desirability',
            of: property('sa'),
            shape: { type: 'decreasing', low: 1, high: 10 },
          },
        },
      ],
    });
    combined
      .evaluate(molecules)
      .forEach((value, i) => expect(value).toBeCloseTo(0.1 + 0.5 * qed[i] + 0.5 * synthesizability[i], 12));
    const preset = (await reward({ kind: 'preset', name: 'qed_and_synthesizability' })).evaluate(molecules);
    preset.forEach((value, i) => expect(value).toBeCloseTo(0.5 * qed[i] + 0.5 * synthesizability[i], 12));

    const window = await reward({
      kind: 'desirability',
      of: property('mw'),
      shape: { type: 'window', low: 150, high: 200, softness: 100 },
    });
    window.evaluate(molecules).forEach((value, i) => {
      const distance = mw[i] < 150 ? 150 - mw[i] : mw[i] > 200 ? mw[i] - 200 : 0;
      expect(value).toBeCloseTo(Math.max(0, 1 - distance / 100), 12);
    });
    const sigmoid = await reward({
      kind: 'desirability',
      of: property('mw'),
      shape: { type: 'sigmoid', center: 200, scale: -25 },
    });
    sigmoid
      .evaluate(molecules)
      .forEach((value, i) => expect(value).toBeCloseTo(1 / (1 + Math.exp((mw[i] - 200) / 25)), 12));

    const threshold = await reward({
      kind: 'threshold',
      of: property('mw'),
      min: 150,
      max: 200,
      pass: 2,
      fail: -1,
    });
    expect(Array.from(threshold.evaluate(molecules))).toEqual(
      Array.from(mw, (value) => (value >= 150 && value <= 200 ? 2 : -1)),
    );
    const product = await reward({
      kind: 'product',
      factors: [property('qed'), { kind: 'preset', name: 'synthesizability' }],
    });
    product
      .evaluate(molecules)
      .forEach((value, i) => expect(value).toBeCloseTo(qed[i] * synthesizability[i], 12));

    const lipinski = (await reward({ kind: 'preset', name: 'lipinski' })).evaluate(molecules);
    expect(lipinski[0]).toBe(1);
    expect(lipinski[2]).toBe(0.75); // stearic acid: logP above 5
    for (const name of PRESET_REWARD_NAMES) expect(describeReward({ kind: 'preset', name })).toBe(name);
    expect(describeReward(combined.spec)).toBe('0.5·QED + 0.5·desirability(SA score)');
  });

  it('SMARTS must-have / must-not-have', async () => {
    const acidNoNitrogen = await reward({ kind: 'smarts', mustHave: ['C(=O)[OH]'], mustNotHave: ['[#7]'] });
    expect(Array.from(acidNoNitrogen.evaluate(molecules))).toEqual([1, 0, 1, 0]);
    const fraction = await reward({
      kind: 'smarts',
      mustHave: ['C(=O)[OH]'],
      mustNotHave: ['[#7]'],
      score: 'fraction',
    });
    expect(Array.from(fraction.evaluate(molecules))).toEqual([1, 0, 1, 0.5]);
  });
});

describe('against RDKit', () => {
  beforeAll(() => requireRdkitPeer());

  it('Tanimoto similarity to references equals RDKit (Morgan radius 2, 2048 bits)', async () => {
    const library = readSmilesColumn(sharedDataFile('molecules/hgraph2graph_qed_test.smi'), 201);
    const [reference, ...candidates] = library;
    const similarity = await reward({ kind: 'similarity', references: [reference] });
    const ours = similarity.evaluate(candidates);
    // peerMorganBits gives Tanimoto of consecutive pairs: interleave the reference with each candidate.
    const interleaved = candidates.flatMap((smiles) => [reference, smiles]);
    const peer = peerMorganBits(interleaved, 2, 2048).tanimotoToNext.filter((_, i) => i % 2 === 0);
    const maxDifference = Math.max(...Array.from(ours, (value, i) => Math.abs(value - peer[i])));
    console.log(
      `similarity reward vs RDKit TanimotoSimilarity, ${candidates.length} molecules: max |Δ| = ${maxDifference}`,
    );
    expect(maxDifference).toBeLessThan(1e-12);
    expect(similarity.evaluate([reference])[0]).toBe(1);
    const mean = await reward({
      kind: 'similarity',
      references: [reference, candidates[0]],
      aggregate: 'mean',
    });
    expect(mean.evaluate([reference])[0]).toBeCloseTo((1 + peer[0]) / 2, 12);
  });

  it('MOSES filters (PAINS + MCF + MOSES rules) pass and fail the same molecules as MOSES on RDKit', async () => {
    const molecules = [
      ...readSmilesColumn(sharedDataFile('molecules/jtvae_zinc_test_5k.smi'), 250),
      ...readSmilesColumn(sharedDataFile('molecules/moleculenet_bbbp.csv'), 151, 3, /,/).slice(1),
    ];
    const filters = await reward({ kind: 'preset', name: 'moses_filters' });
    const started = performance.now();
    const ours = Array.from(filters.evaluate(molecules), (value) => value === 1);
    const seconds = (performance.now() - started) / 1000;
    const peer = peerMosesFilters(molecules, path.resolve('server/molecules/data'));
    const disagreements = molecules.filter((_, i) => ours[i] !== peer[i]);
    console.log(
      `MOSES filters on ${molecules.length} molecules: ${ours.filter(Boolean).length} pass (RDKit: ${peer.filter(Boolean).length}), ` +
        `${disagreements.length} disagreements, ${(molecules.length / seconds).toFixed(0)} mol/s`,
    );
    expect(disagreements).toEqual([]);
    // PAINS alone: some ZINC molecules are flagged, and the reward names nothing when all pass.
    const pains = await reward({ kind: 'alerts', catalogs: ['pains'] });
    const painsValues = pains.evaluate(molecules);
    expect(painsValues.some((value) => value === 0)).toBe(true);
    const custom = await reward({
      kind: 'alerts',
      catalogs: [],
      custom: [{ name: 'nitro', smarts: '[N+](=O)[O-]' }],
    });
    expect(Array.from(custom.evaluate(['c1ccccc1[N+](=O)[O-]', 'c1ccccc1']))).toEqual([0, 1]);
  });
});

it('evaluates a stored reward once and frees it', async () => {
  const result = await evaluateMolecularReward(
    molecularRewardSchema.parse({ reward: property('heavy'), invalidValue: -1 }),
    ['CCO', 'C1CC'],
  );
  expect(Array.from(result.values)).toEqual([3, -1]);
});
