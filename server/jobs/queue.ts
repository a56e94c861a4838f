/**
 * The job queue: pg-boss on the platform's PostgreSQL (a pool of its own) or on the same PGlite
 * instance as drizzle (pg-boss's PGlite adapter). One queue holds every run; a job carries only
 * the run's id, the run row holds everything else.
 */
import { sql } from 'drizzle-orm';
import { PgBoss, fromDrizzle, fromPglite } from 'pg-boss';
import type { AppTx, Database } from '../../db/client';

export const RUN_QUEUE = 'runs';

export interface RunJobData {
  runId: string;
}

/**
 * A worker that dies stops its heartbeat; after `heartbeatSeconds` (pg-boss's minimum, 10 s) plus
 * at most one supervision pass, the job is retried on another worker.
 */
export const RUN_HEARTBEAT_SECONDS = 10;
const MONITOR_INTERVAL_SECONDS = 2;
/** Heartbeat expiry is checked in supervision passes (pg-boss's default is every 60 s). */
const SUPERVISE_INTERVAL_SECONDS = 5;

export async function startQueue(database: Database): Promise<PgBoss> {
  const common = {
    monitorIntervalSeconds: MONITOR_INTERVAL_SECONDS,
    superviseIntervalSeconds: SUPERVISE_INTERVAL_SECONDS,
  };
  // On PostgreSQL, workers wake on NOTIFY when a run is queued instead of waiting out their polling
  // interval. (PGlite's adapter does not deliver NOTIFY to pg-boss's listener; it polls.)
  const boss =
    database.mode === 'pglite' && database.pglite
      ? new PgBoss({ db: fromPglite(database.pglite), backend: 'pglite', ...common })
      : new PgBoss({ connectionString: database.url, max: 4, useListenNotify: true, ...common });
  boss.on('error', (error) => console.error('[queue]', error));
  await boss.start();
  if (!(await boss.getQueue(RUN_QUEUE))) {
    await boss.createQueue(RUN_QUEUE, {
      heartbeatSeconds: RUN_HEARTBEAT_SECONDS,
      notify: true,
      expireInSeconds: 24 * 3600,
      retryLimit: 2,
      deleteAfterSeconds: 7 * 24 * 3600,
    });
  }
  return boss;
}

/** Enqueues a run inside the caller's transaction, so the run row and its job commit together. */
export async function enqueueRun(boss: PgBoss, tx: AppTx, runId: string): Promise<string> {
  // The schema-generic transaction type hides postgres-js/PGlite result shapes that the adapter handles.
  const drizzleTx = tx as unknown as Parameters<typeof fromDrizzle>[0];
  const id = await boss.send(RUN_QUEUE, { runId } satisfies RunJobData, { db: fromDrizzle(drizzleTx, sql) });
  if (!id) throw new Error(`The queue refused the job for run ${runId}`);
  return id;
}
