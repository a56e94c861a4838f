/**
 * Molecular priors (server/molecules/prior.ts) and generation metrics (server/molecules/metrics.ts):
 * the one-hot SELFIES relaxation decodes back to the same molecules exactly, the metrics equal their
 * definitions on hand-counted sets, and a prior trained briefly samples valid, decodable molecules;
 * latent priors reconstruct their library through the autoencoder and merge only within one space.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initTensorBackend } from '../../server/engines/tensor';
import { generationMetrics, internalDiversity } from '../../server/molecules/metrics';
import { designMolecules } from '../../server/molecules/design';
import {
  decodeSamples,
  encodeLibrary,
  MolecularPrior,
  trainMolecularPrior,
} from '../../server/molecules/prior';
import { loadRDKit, parseSmiles } from '../../server/molecules/rdkit';

const drugs = [
  'CC(=O)Oc1ccccc1C(=O)O', // aspirin
  'CC(C)Cc1ccc(cc1)C(C)C(=O)O', // ibuprofen
  'CN1C=NC2=C1C(=O)N(C(=O)N2C)C', // caffeine
  'CC(=O)Nc1ccc(O)cc1', // paracetamol
  'OC(=O)c1ccccc1O', // salicylic acid
  'C1CCC(CC1)N', // cyclohexylamine
  'c1ccc2c(c1)cccn2', // quinoline
  'CCN(CC)CC', // triethylamine
];

beforeAll(async () => {
  await initTensorBackend('wasm');
});

describe('molecular prior encoding', () => {
  it('one-hot SELFIES rows decode back to the same canonical molecules', async () => {
    const rdkit = await loadRDKit();
    const library = await encodeLibrary([...drugs, drugs[0]]);
    expect(library.canonical).toHaveLength(drugs.length); // the duplicate aspirin kept once
    expect(library.vectors).toHaveLength(drugs.length * library.length * library.vocabulary.symbols.length);
    const { smiles } = decodeSamples(library.vectors, library.vocabulary, library.length);
    const canonical = smiles.map((s) => {
      const parsed = parseSmiles(rdkit, s);
      if (!parsed.valid) throw new Error(`decoded ${s} does not parse: ${parsed.error}`);
      return parsed.canonical;
    });
    expect(canonical).toEqual(library.canonical);
  });

  it('skips unparsable and over-long molecules and says why', async () => {
    const library = await encodeLibrary(['CCO', 'C1CC', 'not a molecule', 'C'.repeat(30)], { maxLength: 10 });
    expect(library.canonical).toEqual(['CCO']);
    expect(library.skipped.map((s) => s.smiles)).toEqual(['C1CC', 'not a molecule', 'C'.repeat(30)]);
    expect(library.skipped[2].reason).toMatch(/30 symbols, over 10/);
    await expect(encodeLibrary(['xyz'])).rejects.toThrow(/no molecule/);
  });
});

describe('generation metrics', () => {
  it('internal diversity is 0 for identical and 1 for disjoint fingerprints', () => {
    const a = Uint8Array.from([1, 1, 0, 0]);
    const b = Uint8Array.from([0, 0, 1, 1]);
    expect(internalDiversity([a, a, a])).toBe(0);
    expect(internalDiversity([a, b])).toBe(1);
    // Pairs (a,a′) similarity 1/3 with a′ = [1,0,1,0]: |a∧a′| = 1, |a∨a′| = 3.
    expect(internalDiversity([a, Uint8Array.from([1, 0, 1, 0])])).toBeCloseTo(2 / 3, 12);
  });

  it('validity, uniqueness and novelty are the hand-counted fractions', async () => {
    // 6 samples: 4 valid (ethanol written twice in two ways, benzene, methane), '' and garbage invalid.
    const samples = ['CCO', 'OCC', 'c1ccccc1', 'C', '', 'C1CC'];
    const metrics = await generationMetrics(samples, new Set(['CCO']));
    expect(metrics.validity).toBeCloseTo(4 / 6, 12);
    expect(metrics.uniqueness).toBeCloseTo(3 / 4, 12); // CCO twice after canonicalisation
    expect(metrics.novelty).toBeCloseTo(2 / 3, 12); // benzene and methane are new, ethanol is not
    expect(metrics.uniqueness_1k).toBeNull(); // fewer than 1000 valid samples
    expect(metrics.properties.mw.mean).toBeCloseTo((46.069 + 78.114 + 16.043) / 3, 2);
  });
});

describe('molecular prior training', () => {
  it('trains on a small library, samples valid molecules and survives a store/load round trip', async () => {
    const { prior, stored } = await trainMolecularPrior(drugs, { steps: 60, hidden: 64, batchSize: 32 });
    try {
      expect(stored.training.molecules).toBe(drugs.length);
      expect(stored.training.dataHash).toMatch(/^[0-9a-f]{64}$/);
      const samples = prior.sample(50, 3);
      const metrics = await generationMetrics(samples, prior.trainingSmiles);
      // SELFIES decode to valid molecules by construction; only an all-[nop] sample is empty.
      expect(metrics.validity).toBeGreaterThan(0.9);
      const reloaded = MolecularPrior.fromStored(JSON.parse(JSON.stringify(stored)) as typeof stored);
      try {
        expect(reloaded.sample(50, 3)).toEqual(samples);
      } finally {
        reloaded.dispose();
      }
    } finally {
      prior.dispose();
    }
  });
});

describe('latent molecular priors', () => {
  it('reconstruct their library through the autoencoder, sample it, store, project and merge only within one space', async () => {
    const rdkit = await loadRDKit();
    const canonical = drugs.map((smiles) => {
      const parsed = parseSmiles(rdkit, smiles);
      if (!parsed.valid) throw new Error(parsed.error);
      return parsed.canonical;
    });
    const { prior, stored, library } = await trainMolecularPrior(drugs, {
      steps: 400,
      hidden: 64,
      batchSize: 32,
      representation: 'latent',
      autoencoder: { latent: 8, hidden: 128, steps: 400, batchSize: 32 },
    });
    const other = await trainMolecularPrior(
      drugs.slice(0, 4),
      { steps: 10, hidden: 32 },
      {
        vocabulary: library.vocabulary,
        length: library.length,
        autoencoder: stored.autoencoder,
      },
    );
    const { prior: stranger } = await trainMolecularPrior(drugs.slice(0, 4), {
      steps: 10,
      hidden: 32,
      representation: 'latent',
      autoencoder: { latent: 8, hidden: 32, steps: 10 },
    });
    try {
      expect(prior.representation).toBe('latent');
      expect(prior.dimension).toBe(8);
      // Eight strings through an 8-dimensional latent: every one must come back exactly.
      expect(stored.autoencoder?.training.reconstruction).toBe(1);
      const autoencoder = prior.latent?.autoencoder;
      if (!autoencoder) throw new Error('a latent prior has an autoencoder');
      const latents = autoencoder.encode(library.classes);
      expect(
        prior
          .decode(latents)
          .smiles.map((s) => parseSmiles(rdkit, s))
          .map((p) => p.valid && p.canonical),
      ).toEqual(canonical);
      // Projection replaces a point by the latent of the molecule it decodes to: the same molecule.
      const samplePoints = new Float32Array(latents.map((v, i) => v + 0.3 * Math.sin(i)));
      expect(prior.decode(prior.project(samplePoints)).smiles).toEqual(prior.decode(samplePoints).smiles);

      const samples = prior.sample(200, 5);
      const metrics = await generationMetrics(samples, prior.trainingSmiles);
      expect(metrics.validity).toBeGreaterThan(0.9);
      const training = new Set(canonical);
      const recovered = samples.filter((s) => {
        const parsed = parseSmiles(rdkit, s);
        return parsed.valid && training.has(parsed.canonical);
      }).length;
      console.log(`latent prior on 8 drugs: ${recovered} of 200 samples are training molecules`);
      expect(recovered / 200).toBeGreaterThan(0.5);

      const reloaded = MolecularPrior.fromStored(JSON.parse(JSON.stringify(stored)) as typeof stored);
      try {
        expect(reloaded.sample(50, 3)).toEqual(prior.sample(50, 3));
      } finally {
        reloaded.dispose();
      }
      // Same vocabulary, length and autoencoder: one space; another autoencoder: another space.
      expect(other.prior.spaceKey).toBe(prior.spaceKey);
      expect(stranger.spaceKey).not.toBe(prior.spaceKey);
      await expect(
        designMolecules({ priors: [prior, stranger], operator: 'intersection', sampleCount: 16, steps: 1 }),
      ).rejects.toThrow(/one autoencoder/);
    } finally {
      prior.dispose();
      other.prior.dispose();
      stranger.dispose();
    }
  });
});
