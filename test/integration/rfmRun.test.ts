/**
 * A nested circuit through the queue: every operator node's flow is stored as a model of the project,
 * and a later circuit can use it as a prior (but not another project's).
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { models } from '../../db/schema';
import type { Runtime } from '../../server/runtime';
import { startWorker } from '../../workers/runner';
import { blob, nestedCircuit, quickInner } from '../support/circuits';
import { callerFor, createTestRuntime, signUp, waitFor } from '../support/runtime';

describe('RFM circuit runs (PGlite)', () => {
  let runtime: Runtime;
  let worker: { stop(): Promise<void> };
  let alice: Awaited<ReturnType<typeof callerFor>>;
  beforeAll(async () => {
    runtime = await createTestRuntime('pglite');
    worker = await startWorker(runtime, { concurrency: 1 });
    alice = await callerFor(runtime, await signUp(runtime, 'rfm@example.org'));
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

  it('stores every node, and reuses a node as a prior of the next circuit', async () => {
    const { id: projectId } = await alice.project.create({ name: 'Circuits' });
    const config = { circuit: nestedCircuit, inner: quickInner, gridSize: 20, displaySamples: 40 };
    const first = await finished((await alice.run.start({ projectId, kind: 'rfm', config, seed: 1 })).id);
    expect(first.run.error).toBeNull();
    const nodes = first.artifacts.nodes as { path: string; tv?: number; iterations: unknown[] }[];
    expect(nodes.map((n) => n.path)).toEqual(['root.0.0', 'root.0.1', 'root.0', 'root.1', 'root']);
    expect(nodes.find((n) => n.path === 'root')?.tv).toBeLessThan(0.3);
    const stored = await runtime.db.select().from(models).where(eq(models.runId, first.run.id));
    expect(stored.map((m) => m.name).sort()).toEqual(['node root', 'node root.0']);

    const rootModel = stored.find((m) => m.name === 'node root')!;
    const reuse = {
      ...config,
      circuit: {
        type: 'operator' as const,
        operator: 'intersection' as const,
        children: [
          { type: 'prior' as const, source: { kind: 'model' as const, modelId: rootModel.id } },
          {
            type: 'prior' as const,
            source: { kind: 'gaussian-mixture' as const, components: [blob([1, 0], 1)] },
          },
        ],
      },
    };
    const second = await finished(
      (await alice.run.start({ projectId, kind: 'rfm', config: reuse, seed: 2 })).id,
    );
    expect(second.run.error).toBeNull();
    expect(second.run.status).toBe('succeeded');

    const bob = await callerFor(runtime, await signUp(runtime, 'rfm-bob@example.org'));
    const { id: bobProject } = await bob.project.create({ name: 'Bob' });
    const stolen = await bob.run.start({ projectId: bobProject, kind: 'rfm', config: reuse, seed: 3 });
    const refused = await waitFor(async () => {
      const dashboard = await bob.run.get({ runId: stolen.id });
      return ['succeeded', 'failed'].includes(dashboard.run.status) && dashboard;
    }, 60_000);
    expect(refused.run.status).toBe('failed');
    expect(refused.run.error).toMatch(/not found in this project/);
  });
});
