/**
 * Queue throughput: trivial (noop) jobs per second from enqueue to stored result, through pg-boss
 * and the worker runner, on embedded PGlite and on a throwaway PostgreSQL server, in one run.
 * Usage: npx tsx bench/queueThroughput.ts [jobs=200] [concurrency=4]. Prints one JSON line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq, inArray, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { projectMembers, projects, runs } from '../db/schema';
import { startThrowawayPostgres } from '../scripts/throwawayPostgres';
import { parseEnv } from '../server/env';
import { createRun } from '../server/runs';
import { createRuntime } from '../server/runtime';
import { startWorker } from '../workers/runner';

const jobs = Number(process.argv[2] ?? 200);
const concurrency = Number(process.argv[3] ?? 4);

async function measure(databaseUrl?: string) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-bench-'));
  const runtime = await createRuntime(
    parseEnv({ TRIBUTARY_DATA_DIR: dataDir, DATABASE_URL: databaseUrl, TRIBUTARY_DEMO: 'false' }),
  );
  try {
    const { user: owner } = await runtime.auth.api.signUpEmail({
      body: { email: 'bench@example.org', password: 'correct horse battery', name: 'Bench' },
    });
    const [project] = await runtime.db
      .insert(projects)
      .values({ name: 'bench', createdBy: owner.id })
      .returning();
    await runtime.db
      .insert(projectMembers)
      .values({ projectId: project.id, userId: owner.id, role: 'owner' });
    const worker = await startWorker(runtime, { concurrency });
    const began = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < jobs; i++) {
      const run = await createRun(runtime, {
        projectId: project.id,
        kind: 'noop',
        name: `noop ${i}`,
        config: { durationMs: 0 },
        seed: 0,
        userId: owner.id,
      });
      ids.push(run.id);
    }
    const enqueueSeconds = (performance.now() - began) / 1000;
    for (;;) {
      const [{ done }] = await runtime.db
        .select({ done: sql<number>`count(*)::int` })
        .from(runs)
        .where(inArray(runs.status, ['succeeded', 'failed']));
      if (done >= jobs) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const seconds = (performance.now() - began) / 1000;
    const [{ failed }] = await runtime.db
      .select({ failed: sql<number>`count(*)::int` })
      .from(runs)
      .where(eq(runs.status, 'failed'));
    await worker.stop();
    return {
      jobsPerSecond: Number((jobs / seconds).toFixed(1)),
      seconds: Number(seconds.toFixed(2)),
      enqueueSeconds: Number(enqueueSeconds.toFixed(2)),
      failed,
    };
  } finally {
    await runtime.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const pglite = await measure();
const server = await startThrowawayPostgres();
let postgresResult;
try {
  const admin = postgres(server.url, { max: 1, onnotice: () => {} });
  await admin.unsafe('create database bench');
  await admin.end();
  postgresResult = await measure(server.url.replace(/\/postgres$/, '/bench'));
} finally {
  server.stop();
}
console.log(
  JSON.stringify({
    bench: 'queue-throughput',
    jobs,
    concurrency,
    pglite,
    postgresql: postgresResult,
    ratioPostgresToPglite: Number((postgresResult.jobsPerSecond / pglite.jobsPerSecond).toFixed(2)),
    node: process.version,
    cpus: os.cpus().length,
    date: new Date().toISOString(),
  }),
);
process.exit(0);
