/**
 * Molecule jobs through the queue: a SELFIES prior trains on an inline library and is stored as a model
 * of kind "molecular-prior"; a design run merges it under a reward and keeps scored molecules with
 * depictions; a design run cannot use another project's prior, nor a model that is not a prior.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { models } from '../../db/schema';
import type { Runtime } from '../../server/runtime';
import { handleMoleculeSdf } from '../../server/moleculeExport';
import { loadRDKit, parseSmiles } from '../../server/molecules/rdkit';
import { startWorker } from '../../workers/runner';
import { callerFor, createTestRuntime, signUp, waitFor } from '../support/runtime';
import { smallDrugLibrary } from '../support/molecules';

const library = smallDrugLibrary;

describe('molecule runs (PGlite)', () => {
  let runtime: Runtime;
  let worker: { stop(): Promise<void> };
  let alice: Awaited<ReturnType<typeof callerFor>>;
  let aliceHeaders: Headers;
  beforeAll(async () => {
    runtime = await createTestRuntime('pglite');
    worker = await startWorker(runtime, { concurrency: 1 });
    aliceHeaders = await signUp(runtime, 'chemist@example.org');
    alice = await callerFor(runtime, aliceHeaders);
  });
  afterAll(async () => {
    await worker?.stop();
    await runtime?.close();
  });

  const finished = (caller: typeof alice, runId: string) =>
    waitFor(async () => {
      const dashboard = await caller.run.get({ runId });
      return ['succeeded', 'failed', 'cancelled'].includes(dashboard.run.status) && dashboard;
    }, 120_000);
  /** Starts a run and waits until it has ended. */
  const startAndFinish = async (caller: typeof alice, run: Parameters<typeof alice.run.start>[0]) =>
    finished(caller, (await caller.run.start(run)).id);

  it('trains a latent prior (autoencoder, then flow), stores it and designs in its space', async () => {
    const { id: projectId } = await alice.project.create({ name: 'Latent molecules' });
    const prior = await startAndFinish(alice, {
      projectId,
      kind: 'molecule-prior',
      config: {
        library: { kind: 'smiles', smiles: library },
        steps: 30,
        hidden: 32,
        samples: 40,
        representation: 'latent',
        autoencoderSteps: 30,
        latentDimension: 8,
      },
      seed: 3,
    });
    expect(prior.run.error).toBeNull();
    const reconstruction = (prior.run.metrics as Record<string, number>).autoencoder_reconstruction;
    expect(reconstruction).toBeGreaterThanOrEqual(0);
    expect(reconstruction).toBeLessThanOrEqual(1);
    expect(prior.artifacts.space).toMatchObject({ representation: 'latent', dimension: 8 });
    const [stored] = await runtime.db.select().from(models).where(eq(models.runId, prior.run.id));
    expect(stored.metadata).toMatchObject({ representation: 'latent' });

    const design = await startAndFinish(alice, {
      projectId,
      kind: 'molecule-design',
      config: {
        priors: [stored.id],
        reward: { kind: 'property', property: 'qed' },
        sampleCount: 32,
        steps: 5,
        samples: 20,
      },
      seed: 4,
    });
    expect(design.run.error).toBeNull();
    expect(design.run.metrics).toMatchObject({ reward_calls: 32 });
    expect((design.artifacts.molecules as unknown[]).length).toBeGreaterThan(0);
  });

  it('trains a prior, stores it, and designs from it under a reward', async () => {
    const { id: projectId } = await alice.project.create({ name: 'Molecules' });
    const prior = await startAndFinish(alice, {
      projectId,
      kind: 'molecule-prior',
      config: { library: { kind: 'smiles', smiles: library }, steps: 40, hidden: 32, samples: 40 },
      seed: 1,
    });
    expect(prior.run.error).toBeNull();
    expect(prior.run.metrics).toMatchObject({ molecules: library.length });
    // Library statistics: every library molecule's properties (the library is under 1,000), in range.
    const libraryStats = prior.artifacts.library as {
      molecules: number;
      properties: { molecules: number; of: number; values: Record<string, number[]> };
    };
    expect(libraryStats.properties.of).toBe(libraryStats.molecules);
    expect(libraryStats.properties.molecules).toBe(libraryStats.molecules);
    expect(Object.keys(libraryStats.properties.values).sort()).toEqual(['logp', 'mw', 'qed', 'sa', 'tpsa']);
    for (const qed of libraryStats.properties.values.qed) expect(qed).toBeGreaterThan(0);
    for (const qed of libraryStats.properties.values.qed) expect(qed).toBeLessThan(1);
    for (const sa of libraryStats.properties.values.sa) expect(sa).toBeGreaterThanOrEqual(1);
    for (const sa of libraryStats.properties.values.sa) expect(sa).toBeLessThanOrEqual(10);
    const [stored] = await runtime.db.select().from(models).where(eq(models.runId, prior.run.id));
    expect(stored.kind).toBe('molecular-prior');

    const design = await startAndFinish(alice, {
      projectId,
      kind: 'molecule-design',
      config: {
        priors: [stored.id],
        reward: { kind: 'property', property: 'qed' },
        sampleCount: 64,
        steps: 10,
        samples: 30,
      },
      seed: 2,
    });
    expect(design.run.error).toBeNull();
    expect(design.run.metrics).toMatchObject({ reward_calls: 64 });
    const molecules = design.artifacts.molecules as {
      smiles: string;
      reward: number;
      qed: number;
      svg: string | null;
    }[];
    expect(molecules.length).toBeGreaterThan(0);
    // Sorted by reward, and the reward here is QED itself.
    expect(molecules[0].reward).toBeGreaterThanOrEqual(molecules[molecules.length - 1].reward);
    expect(molecules[0].reward).toBeCloseTo(molecules[0].qed, 12);
    expect(molecules[0].svg).toMatch(/<svg/);

    // The molecules download as SDF for project members, one record each with its reward.
    const sdfUrl = `http://localhost/api/runs/${design.run.id}/molecules.sdf`;
    const download = await handleMoleculeSdf(
      runtime,
      new Request(sdfUrl, { headers: aliceHeaders }),
      design.run.id,
    );
    expect(download.status).toBe(200);
    const sdf = await download.text();
    expect(sdf.split('$$$$').filter((record) => record.trim() !== '')).toHaveLength(molecules.length);
    expect(sdf).toContain('> <reward>');

    // Another project cannot use Alice's prior; a model that is not a prior is refused by name.
    const bobHeaders = await signUp(runtime, 'chemist-bob@example.org');
    const bob = await callerFor(runtime, bobHeaders);
    const refusedSdf = await handleMoleculeSdf(
      runtime,
      new Request(sdfUrl, { headers: bobHeaders }),
      design.run.id,
    );
    expect(refusedSdf.status).toBe(404);
    const { id: bobProject } = await bob.project.create({ name: 'Bob' });
    const stolen = await startAndFinish(bob, {
      projectId: bobProject,
      kind: 'molecule-design',
      config: { priors: [stored.id] },
    });
    expect(stolen.run.status).toBe('failed');
    expect(stolen.run.error).toMatch(/not found in this project/);
    await expect(
      alice.run.start({ projectId, kind: 'molecule-design', config: { priors: ['not-a-uuid'] } }),
    ).rejects.toThrow(/model id/);
    // With a surrogate the reward calls stay those scored per step; the rest of the pool is predicted.
    const withSurrogate = await startAndFinish(alice, {
      projectId,
      kind: 'molecule-design',
      config: {
        priors: [stored.id],
        reward: { kind: 'property', property: 'qed' },
        sampleCount: 32,
        surrogatePool: 128,
        snapSamples: true,
        steps: 10,
        samples: 20,
      },
      seed: 3,
    });
    expect(withSurrogate.run.error).toBeNull();
    expect(withSurrogate.run.metrics).toMatchObject({ reward_calls: 32 });
    const [iteration] = withSurrogate.artifacts.iterations as { surrogate?: { looR2: number } }[];
    expect(Number.isFinite(iteration.surrogate?.looR2)).toBe(true);
    await expect(
      alice.run.start({
        projectId,
        kind: 'molecule-design',
        config: { priors: [stored.id], sampleCount: 64, surrogatePool: 64 },
      }),
    ).rejects.toThrow(/surrogate pool must be larger/);
    // Preference queries over samples of the prior (issue 6, 3b): the prior run's molecules are the pool.
    const priorMolecules = prior.artifacts.molecules as { smiles: string }[];
    const { id: campaignId } = await alice.preference.create({
      projectId,
      name: 'Prior samples',
      domain: 'molecules',
      K: 2,
      budget: 2,
      sourceRunId: prior.run.id,
    });
    const { campaign } = await alice.preference.get({ campaignId });
    expect(campaign.space).toMatchObject({ kind: 'molecules', source: 'run', sourceRunId: prior.run.id });
    if (campaign.space.kind !== 'molecules') throw new Error('expected a molecule space');
    expect(campaign.space.size).toBe(new Set(priorMolecules.map((m) => m.smiles)).size);
    const { query } = await alice.preference.next({ campaignId });
    // The pool holds RDKit's canonical SMILES of the samples.
    const rdkit = await loadRDKit();
    const sampled = new Set(
      priorMolecules.map((m) => {
        const parsed = parseSmiles(rdkit, m.smiles);
        return parsed.valid ? parsed.canonical : '';
      }),
    );
    for (const option of query!.options) {
      expect(sampled.has(option.smiles!)).toBe(true);
      expect(option.label).toMatch(/^sample \d+$/);
    }
    // Not another project's run, not a run without molecules, not both sources at once.
    await expect(
      bob.preference.create({
        projectId: bobProject,
        name: 'x',
        domain: 'molecules',
        sourceRunId: prior.run.id,
      }),
    ).rejects.toThrow(/not in this project/);
    await expect(
      alice.preference.create({ projectId, name: 'x', domain: 'molecules', sourceRunId: stolen.run.id }),
    ).rejects.toThrow(/not in this project/);
    await expect(
      alice.preference.create({
        projectId,
        name: 'x',
        domain: 'molecules',
        sourceRunId: prior.run.id,
        smiles: 'CCO\nCCN\nCCC',
      }),
    ).rejects.toThrow(/either pasted SMILES or a run/);
  });
});
