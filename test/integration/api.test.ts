/**
 * Routers, queue and worker together, on embedded PGlite and on a real PostgreSQL server:
 * access control, input validation, run lifecycle (success, failure, cancel) and share links.
 */
import { TRPCError } from '@trpc/server';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runArtifacts, runs, shareLinks } from '../../db/schema';
import type { Runtime } from '../../server/runtime';
import { startWorker } from '../../workers/runner';
import { callerFor, createTestRuntime, databaseModes, signUp, waitFor } from '../support/runtime';

async function rejection(promise: Promise<unknown>): Promise<TRPCError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof TRPCError)) throw new Error(`expected a TRPCError, got ${String(error)}`);
  return error;
}

describe.each(databaseModes)('API on %s', (mode) => {
  let runtime: Runtime;
  let worker: { stop(): Promise<void> };
  let alice: Awaited<ReturnType<typeof callerFor>>;
  let bob: Awaited<ReturnType<typeof callerFor>>;
  let anonymous: Awaited<ReturnType<typeof callerFor>>;
  let projectId: string;

  beforeAll(async () => {
    runtime = await createTestRuntime(mode);
    worker = await startWorker(runtime, { concurrency: 2 });
    alice = await callerFor(runtime, await signUp(runtime, 'alice@example.org'));
    bob = await callerFor(runtime, await signUp(runtime, 'bob@example.org'));
    anonymous = await callerFor(runtime);
    projectId = (await alice.project.create({ name: 'Moons' })).id;
  });
  afterAll(async () => {
    await worker?.stop();
    await runtime?.close();
  });

  async function finished(runId: string) {
    return waitFor(async () => {
      const run = await alice.run.get({ runId });
      return ['succeeded', 'failed', 'cancelled'].includes(run.run.status) && run;
    });
  }

  describe('access', () => {
    it('refuses anonymous callers', async () => {
      const error = await rejection(anonymous.project.list());
      expect(error.code).toBe('UNAUTHORIZED');
    });

    it("hides one user's project from another, as if it did not exist", async () => {
      expect((await bob.project.list()).map((p) => p.id)).not.toContain(projectId);
      const error = await rejection(bob.project.get({ projectId }));
      expect(error.code).toBe('NOT_FOUND');
      expect((await rejection(bob.run.list({ projectId }))).code).toBe('NOT_FOUND');
    });

    it('lets a viewer read but not start runs', async () => {
      await alice.project.addMember({ projectId, email: 'bob@example.org', role: 'viewer' });
      expect((await bob.project.get({ projectId })).role).toBe('viewer');
      const error = await rejection(bob.run.start({ projectId, kind: 'noop', config: {} }));
      expect(error.code).toBe('FORBIDDEN');
      expect(error.message).toMatch(/editor/);
      const { members } = await alice.project.get({ projectId });
      const bobId = members.find((m) => m.email === 'bob@example.org')?.userId ?? '';
      await alice.project.removeMember({ projectId, userId: bobId });
      expect((await rejection(bob.project.get({ projectId }))).code).toBe('NOT_FOUND');
    });
  });

  describe('bad input', () => {
    it('rejects a malformed project id with a readable message', async () => {
      const error = await rejection(alice.project.get({ projectId: 'not-a-uuid' }));
      expect(error.code).toBe('BAD_REQUEST');
      expect(error.message).toMatch(/projectId must be a UUID/);
    });

    it('answers NOT_FOUND for an unknown project id', async () => {
      const error = await rejection(alice.run.list({ projectId: '00000000-0000-4000-8000-000000000000' }));
      expect(error.code).toBe('NOT_FOUND');
    });

    it('rejects invalid job configs before anything is queued', async () => {
      const before = (await alice.run.list({ projectId })).length;
      const badDensity = await rejection(
        alice.run.start({ projectId, kind: 'flow2d', config: { density: 'spiral' as 'moons' } }),
      );
      expect(badDensity.code).toBe('BAD_REQUEST');
      expect(badDensity.message).toMatch(/density/);
      const badSteps = await rejection(alice.run.start({ projectId, kind: 'flow2d', config: { steps: -5 } }));
      expect(badSteps.message).toMatch(/steps/);
      const unknownKey = await rejection(
        alice.run.start({ projectId, kind: 'flow2d', config: { stpes: 10 } as unknown as { steps: number } }),
      );
      expect(unknownKey.message).toMatch(/stpes/);
      const unknownKind = await rejection(
        alice.run.start({ projectId, kind: 'teleport' as 'noop', config: {} }),
      );
      expect(unknownKind.code).toBe('BAD_REQUEST');
      expect((await alice.run.list({ projectId })).length).toBe(before);
    });
  });

  describe('runs', () => {
    it('runs a job through the queue, with progress and stored results', async () => {
      const { id } = await alice.run.start({ projectId, kind: 'noop', config: { durationMs: 300 } });
      const done = await finished(id);
      expect(done.run.status).toBe('succeeded');
      expect(done.run.progress.fraction).toBe(1);
      expect(done.run.attempts).toBe(1);
      expect(done.artifacts).toEqual({ done: true });
      expect(done.logs.map((l) => l.message).join('\n')).toMatch(/Started on/);
    });

    it('stores a failure with its readable error', async () => {
      const { id } = await alice.run.start({
        projectId,
        kind: 'noop',
        config: { failWith: 'the reactor melted' },
      });
      const done = await finished(id);
      expect(done.run.status).toBe('failed');
      expect(done.run.error).toMatch(/the reactor melted/);
      expect(done.artifacts).toEqual({});
    });

    it('cancels a running job within a few seconds, storing no results', async () => {
      const { id } = await alice.run.start({ projectId, kind: 'noop', config: { durationMs: 60_000 } });
      await waitFor(async () => (await alice.run.get({ runId: id })).run.progress.fraction > 0);
      const asked = Date.now();
      expect((await alice.run.cancel({ runId: id })).status).toBe('running');
      const done = await finished(id);
      expect(done.run.status).toBe('cancelled');
      expect(Date.now() - asked).toBeLessThan(3_000);
      const stored = await runtime.db.select().from(runArtifacts).where(eq(runArtifacts.runId, id));
      expect(stored).toHaveLength(0);
    });

    it('cancels a queued job before it starts', async () => {
      // Occupy both worker slots so the next run stays queued.
      const blockers = await Promise.all(
        [1, 2].map(() => alice.run.start({ projectId, kind: 'noop', config: { durationMs: 60_000 } })),
      );
      const { id } = await alice.run.start({ projectId, kind: 'noop', config: {} });
      expect((await alice.run.cancel({ runId: id })).status).toBe('cancelled');
      for (const blocker of blockers) await alice.run.cancel({ runId: blocker.id });
      const [row] = await runtime.db.select().from(runs).where(eq(runs.id, id));
      expect(row.status).toBe('cancelled');
      expect(row.attempts).toBe(0);
    });
  });

  describe('share links', () => {
    let runId: string;
    beforeAll(async () => {
      runId = (await alice.run.start({ projectId, kind: 'noop', config: {} })).id;
      await finished(runId);
    });

    it('opens the dashboard without an account, and only that', async () => {
      const link = await alice.share.create({ runId });
      expect(link.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const view = await anonymous.share.view({ token: link.token });
      expect(view.run.id).toBe(runId);
      expect(view.artifacts).toEqual({ done: true });
      expect(view.run).not.toHaveProperty('projectId');
      expect((await rejection(anonymous.run.get({ runId }))).code).toBe('UNAUTHORIZED');
      // Only the hash is stored.
      const stored = await runtime.db.select().from(shareLinks).where(eq(shareLinks.id, link.id));
      expect(stored[0].tokenHash).not.toContain(link.token);
    });

    it('refuses revoked links', async () => {
      const link = await alice.share.create({ runId });
      await alice.share.revoke({ linkId: link.id });
      const error = await rejection(anonymous.share.view({ token: link.token }));
      expect(error.code).toBe('FORBIDDEN');
      expect(error.message).toMatch(/revoked/);
    });

    it('refuses expired links', async () => {
      const link = await alice.share.create({ runId, expiresInDays: 1 });
      await anonymous.share.view({ token: link.token });
      await runtime.db
        .update(shareLinks)
        .set({ expiresAt: new Date(Date.now() - 1000) })
        .where(eq(shareLinks.id, link.id));
      const error = await rejection(anonymous.share.view({ token: link.token }));
      expect(error.code).toBe('FORBIDDEN');
      expect(error.message).toMatch(/expired/);
    });

    it('tells malformed tokens from unknown ones', async () => {
      expect((await rejection(anonymous.share.view({ token: 'abc' }))).code).toBe('BAD_REQUEST');
      const unknown = await rejection(anonymous.share.view({ token: 'A'.repeat(43) }));
      expect(unknown.code).toBe('NOT_FOUND');
    });

    it('lets only editors create links', async () => {
      const error = await rejection(bob.share.create({ runId }));
      expect(error.code).toBe('NOT_FOUND'); // bob is not a member
    });
  });
});
