/**
 * Where Next.js route handlers find the runtime. The server entry (tsx) creates the runtime and
 * registers it on globalThis before serving; the route bundles import only this small module,
 * so they share the server's database, queue and auth instead of opening their own.
 */
import type { Runtime } from './runtime';

const globalKey = Symbol.for('tributary.runtime');
type GlobalWithRuntime = typeof globalThis & { [globalKey]?: Runtime };

export function setRuntime(runtime: Runtime | undefined): void {
  (globalThis as GlobalWithRuntime)[globalKey] = runtime;
}

export function getRuntime(): Runtime {
  const runtime = (globalThis as GlobalWithRuntime)[globalKey];
  if (!runtime) throw new Error('Tributary runtime not started: run the server with `npm start`.');
  return runtime;
}
