/**
 * The conformer job through the queue (issue 7 "UI"): a run for 1-butanol stores its ensemble — energies
 * lowest first, a table and an SD file that agree, the summary metrics — and RDKit's own MMFF94 single
 * points of the stored coordinates (`rdkit_oracle.py energy`) agree with the stored energies, so the
 * viewer and the download show what was computed. A bad SMILES fails the run with a readable error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformerArtifact } from '../../components/conformers/ConformerPlots';
import type { Runtime } from '../../server/runtime';
import { startWorker } from '../../workers/runner';
import { oracleEnergies } from '../conformers/oracle';
import { callerFor, createTestRuntime, signUp, waitFor } from '../support/runtime';

describe('conformer runs (PGlite)', () => {
  let runtime: Runtime;
  let worker: { stop(): Promise<void> };
  let alice: Awaited<ReturnType<typeof callerFor>>;
  beforeAll(async () => {
    runtime = await createTestRuntime('pglite');
    worker = await startWorker(runtime, { concurrency: 1 });
    alice = await callerFor(runtime, await signUp(runtime, 'chemist@example.org'));
  });
  afterAll(async () => {
    await worker?.stop();
    await runtime?.close();
  });

  const finished = (runId: string) =>
    waitFor(async () => {
      const dashboard = await alice.run.get({ runId });
      return ['succeeded', 'failed', 'cancelled'].includes(dashboard.run.status) && dashboard;
    }, 120_000);

  it('generates an ensemble whose stored energies RDKit reproduces', async () => {
    const { id: projectId } = await alice.project.create({ name: 'Conformers' });
    const { id } = await alice.run.start({
      projectId,
      kind: 'conformers',
      config: { smiles: 'CCCCO', n: 6, energy: 'xtb' },
      seed: 3,
    });
    const run = await finished(id);
    expect(run.run.error).toBeNull();
    const artifact = run.artifacts.conformers as ConformerArtifact;
    const n = artifact.table.length;
    expect(n).toBeGreaterThanOrEqual(2);
    // RDKit counts 2 rotatable bonds in 1-butanol (bonds to a terminal heavy atom do not count).
    expect(run.run.metrics).toMatchObject({ conformers: n, rotatable_bonds: 2 });
    const energies = artifact.table.map((row) => row.energy);
    expect([...energies].sort((a, b) => a - b)).toEqual(energies);
    expect(artifact.table[0].relative).toBe(0);
    expect(run.run.metrics?.min_energy).toBeCloseTo(energies[0], 4);

    // The SD file: one record per table row, all 15 atoms with hydrogens, and RDKit's MMFF94 single
    // points of those coordinates equal to the stored energies (both round to 1e-4; same force field).
    const records = artifact.sdf.split('$$$$').filter((record) => record.trim() !== '');
    expect(records).toHaveLength(n);
    const rdkit = oracleEnergies(artifact.sdf);
    expect(rdkit).toHaveLength(n);
    rdkit.forEach((row, i) => expect(Math.abs(row.energy! - energies[i])).toBeLessThan(0.01));

    // GFN2-xTB re-scored each MMFF94 minimum: relative energies, 0 for the xtb-lowest conformer.
    const xtb = artifact.table.map((row) => row.xtbRelative!);
    expect(xtb.every((value) => Number.isFinite(value) && value >= 0)).toBe(true);
    expect(xtb[run.run.metrics!.xtb_lowest_conformer - 1]).toBe(0);
    expect(artifact.sdf).toContain('<XTB_ENERGY>');
  });

  it('fails a run with an invalid SMILES, and refuses a bad config at the API', async () => {
    const { id: projectId } = await alice.project.create({ name: 'Bad' });
    const { id } = await alice.run.start({ projectId, kind: 'conformers', config: { smiles: 'C1CC' } });
    const run = await finished(id);
    expect(run.run.status).toBe('failed');
    expect(run.run.error).toMatch(/not a valid SMILES/);
    await expect(
      alice.run.start({ projectId, kind: 'conformers', config: { smiles: 'CCO', n: 0 } }),
    ).rejects.toThrow();
  });
});
