/**
 * A worker killed with SIGKILL mid-job: the job is retried (after pg-boss's heartbeat expires) and
 * completes, and the results are written once, by the surviving attempt.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { runArtifacts, runLogs, runs } from '../../db/schema';
import { createRun } from '../../server/runs';
import { parseEnv } from '../../server/env';
import { createRuntime, type Runtime } from '../../server/runtime';
import { startWorker } from '../../workers/runner';
import { createPostgresDatabase, signUp, waitFor } from '../support/runtime';
import { projectMembers, projects, user } from '../../db/schema';

const secret = 'test-secret-test-secret-test-secret-0123';

function spawnDoomedWorker(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/crashWorker.ts'], {
    env: { ...process.env, BETTER_AUTH_SECRET: secret, TRIBUTARY_DEMO: 'false', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const seen: string[] = [];
  const waiters: { prefix: string; resolve: (line: string) => void }[] = [];
  lines.on('line', (line) => {
    seen.push(line);
    for (const waiter of waiters.filter((w) => line.startsWith(w.prefix))) waiter.resolve(line);
  });
  const next = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const already = seen.find((line) => line.startsWith(prefix));
      if (already) return resolve(already);
      waiters.push({ prefix, resolve });
      child.once('exit', (code) => reject(new Error(`doomed worker exited (${code}) before "${prefix}"`)));
    });
  return { child, next };
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function expectCompletedOnce(runtime: Runtime, runId: string) {
  const worker = await startWorker(runtime, { concurrency: 1, name: 'the survivor' });
  try {
    // Heartbeat (10 s) + monitor interval (2 s) + the 4 s job, with margin.
    const run = await waitFor(async () => {
      const [row] = await runtime.db.select().from(runs).where(eq(runs.id, runId));
      return row.status === 'succeeded' && row;
    }, 45_000);
    expect(run.attempts).toBe(2);
    expect(run.progress.fraction).toBe(1);
    const artifacts = await runtime.db.select().from(runArtifacts).where(eq(runArtifacts.runId, runId));
    expect(artifacts.map((a) => a.name)).toEqual(['done']);
    const logs = await runtime.db.select().from(runLogs).where(eq(runLogs.runId, runId));
    expect(logs.map((l) => l.message).join('\n')).toMatch(/Attempt 2 on the survivor/);
  } finally {
    await worker.stop();
  }
}

describe('a worker killed mid-job', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('on PostgreSQL: another worker retries the job and completes it once', async () => {
    const url = await createPostgresDatabase();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-crash-'));
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const runtime = await createRuntime(
      parseEnv({ DATABASE_URL: url, TRIBUTARY_DATA_DIR: dataDir, BETTER_AUTH_SECRET: secret }),
    );
    cleanups.push(() => runtime.close());
    const doomed = spawnDoomedWorker({ DATABASE_URL: url, TRIBUTARY_DATA_DIR: dataDir });
    cleanups.push(() => void doomed.child.kill('SIGKILL'));
    await doomed.next('ready');

    await signUp(runtime, 'pg-crash@example.org');
    const [owner] = await runtime.db.select().from(user);
    const [project] = await runtime.db
      .insert(projects)
      .values({ name: 'Crash', createdBy: owner.id })
      .returning();
    await runtime.db
      .insert(projectMembers)
      .values({ projectId: project.id, userId: owner.id, role: 'owner' });
    const { id } = await createRun(runtime, {
      projectId: project.id,
      kind: 'noop',
      name: 'slow',
      config: { durationMs: 4000 },
      seed: 0,
      userId: owner.id,
    });
    expect(await doomed.next('claimed')).toBe(`claimed ${id}`);
    await kill(doomed.child);
    await expectCompletedOnce(runtime, id);
  });

  it('on PGlite: the restarted app retries the job and completes it once', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-crash-'));
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const doomed = spawnDoomedWorker({ TRIBUTARY_DATA_DIR: dataDir, CREATE_RUN: '1' });
    cleanups.push(() => void doomed.child.kill('SIGKILL'));
    const id = (await doomed.next('run ')).slice(4);
    expect(await doomed.next('claimed')).toBe(`claimed ${id}`);
    await kill(doomed.child);

    // The same data folder, reopened (the dead process's lock is taken over).
    const runtime = await createRuntime(
      parseEnv({ TRIBUTARY_DATA_DIR: dataDir, BETTER_AUTH_SECRET: secret }),
    );
    cleanups.push(() => runtime.close());
    const [before] = await runtime.db.select().from(runs).where(eq(runs.id, id));
    expect(before.status).toBe('running');
    expect(before.attempts).toBe(1);
    await expectCompletedOnce(runtime, id);
  });
});
