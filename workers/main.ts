/**
 * `npm run worker`: a standalone worker process. Several may run, on several machines, against
 * one PostgreSQL (DATABASE_URL). On embedded PGlite the app process runs its own worker instead.
 */
import { loadEnv } from '../server/env';
import { createRuntime } from '../server/runtime';
import { startWorker } from './runner';

const env = loadEnv();
if (!env.DATABASE_URL) {
  console.error(
    'npm run worker needs DATABASE_URL (PostgreSQL). With embedded PGlite, `npm start` runs a worker in-process.',
  );
  process.exit(2);
}
const runtime = await createRuntime(env);
const worker = await startWorker(runtime, { concurrency: env.TRIBUTARY_WORKER_CONCURRENCY });
console.log(`[worker] pid ${process.pid} ready (concurrency ${env.TRIBUTARY_WORKER_CONCURRENCY})`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`[worker] ${signal}: stopping`);
  await worker.stop();
  await runtime.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
