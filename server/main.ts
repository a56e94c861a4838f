/**
 * `npm start`: the platform in one process. Opens the database (embedded PGlite unless
 * DATABASE_URL is set), migrates it, starts the job queue and, in embedded mode, a worker
 * (off the request path: jobs yield to the event loop between steps), seeds the demo, then
 * serves the Next.js app.
 */
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import next from 'next';
import { startWorker } from '../workers/runner';
import { DEMO_EMAIL, DEMO_PASSWORD, seedDemo } from './demo';
import { loadEnv } from './env';
import { createRuntime } from './runtime';
import { setRuntime } from './runtimeRegistry';

const began = performance.now();
const dev = process.argv.includes('--dev');
const env = loadEnv();
const runtime = await createRuntime(env);
setRuntime(runtime);
console.log(`[tributary] database: ${runtime.database.mode} (${runtime.database.location})`);

const worker =
  env.TRIBUTARY_WORKER === 'in-process'
    ? await startWorker(runtime, { concurrency: env.TRIBUTARY_WORKER_CONCURRENCY, name: 'the app process' })
    : null;
console.log(`[tributary] worker: ${worker ? 'in-process' : 'off (run `npm run worker`)'}`);

if (env.TRIBUTARY_DEMO) {
  const { created } = await seedDemo(runtime);
  if (created) console.log(`[tributary] demo account: ${DEMO_EMAIL} / ${DEMO_PASSWORD}`);
}

const app = next({
  dev,
  dir: fileURLToPath(new URL('..', import.meta.url)),
  hostname: env.HOST,
  port: env.PORT,
});
const handle = app.getRequestHandler();
await app.prepare();
const server = http.createServer((req, res) => void handle(req, res));
server.listen(env.PORT, env.HOST, () => {
  const seconds = ((performance.now() - began) / 1000).toFixed(1);
  console.log(`[tributary] ready on ${env.baseUrl} in ${seconds} s`);
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`[tributary] ${signal}: shutting down`);
  server.close();
  await worker?.stop();
  await app.close();
  await runtime.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
