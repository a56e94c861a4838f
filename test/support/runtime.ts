/**
 * Test runtimes on either database: in-memory PGlite, or a fresh database on the private
 * PostgreSQL server of the global setup. Each call gets its own database and data folder.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { inject } from 'vitest';
import { createTRPCContext } from '../../server/api/trpc';
import { createCaller } from '../../server/api/root';
import { parseEnv } from '../../server/env';
import { createRuntime, type Runtime } from '../../server/runtime';

export type DatabaseMode = 'pglite' | 'postgres';
export const databaseModes: DatabaseMode[] = ['pglite', 'postgres'];

/** A new, empty database on the test server; returns its URL. */
export async function createPostgresDatabase(): Promise<string> {
  const adminUrl = inject('postgresUrl');
  const name = `test_${randomUUID().replace(/-/g, '')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  return adminUrl.replace(/\/postgres$/, `/${name}`);
}

export async function createTestRuntime(
  mode: DatabaseMode,
  extraEnv: Record<string, string> = {},
): Promise<Runtime & { dataDir: string; url?: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-test-'));
  const url = mode === 'postgres' ? await createPostgresDatabase() : undefined;
  const env = parseEnv({
    TRIBUTARY_DATA_DIR: dataDir,
    DATABASE_URL: url,
    BETTER_AUTH_SECRET: 'test-secret-test-secret-test-secret-0123',
    TRIBUTARY_DEMO: 'false',
    ...extraEnv,
  });
  const runtime = await createRuntime(env, { inMemory: true });
  return {
    ...runtime,
    dataDir,
    url,
    close: async () => {
      await runtime.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Signs a user up through the auth library and returns the session cookie header. */
export async function signUp(runtime: Runtime, email: string, name = email.split('@')[0]): Promise<Headers> {
  const result = await runtime.auth.api.signUpEmail({
    body: { email, password: 'correct horse battery', name },
    returnHeaders: true,
  });
  const cookie = result.headers.get('set-cookie');
  if (!cookie) throw new Error('sign-up returned no session cookie');
  return new Headers({ cookie: cookie.split(';')[0] });
}

/** A tRPC caller acting as the user whose cookie is in `headers` (anonymous without). */
export async function callerFor(runtime: Runtime, headers: Headers = new Headers()) {
  return createCaller(await createTRPCContext({ headers, runtime }));
}

/** Polls `check` until it returns a value or the timeout passes. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
