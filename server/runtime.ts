/**
 * The process-wide runtime: database, auth, blob store and queue, created once at start.
 * Next.js route handlers find it on globalThis (the server entry creates it before serving),
 * tests and the worker entry create their own.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { PgBoss } from 'pg-boss';
import { BlobStore } from '../db/blobs';
import { openDatabase, type AppDb, type Database } from '../db/client';
import { createAuth, type Auth } from './auth';
import type { Env } from './env';
import { currentTensorBackend, type TensorBackendInfo } from './engines/tensor';
import { startQueue } from './jobs/queue';
import { codeVersion, packageVersion } from './version';

export interface Runtime {
  env: Env;
  database: Database;
  db: AppDb;
  auth: Auth;
  blobs: BlobStore;
  queue: PgBoss;
  /** pg-boss ids of the workers in this process, woken directly when a run is queued here. */
  localWorkerIds: Set<string>;
  packageVersion: string;
  /** Stored with every run: package version + git commit. */
  codeVersion: string;
  /** The backend the in-process worker chose, once it has run a tensor job. */
  tensorBackend(): TensorBackendInfo | undefined;
  close(): Promise<void>;
}

export interface CreateRuntimeOptions {
  /** Keep PGlite in memory instead of the data folder (tests). Ignored with DATABASE_URL. */
  inMemory?: boolean;
}

export async function createRuntime(env: Env, options: CreateRuntimeOptions = {}): Promise<Runtime> {
  fs.mkdirSync(env.dataDir, { recursive: true });
  const database = await openDatabase({
    url: env.DATABASE_URL,
    dataDir: options.inMemory ? undefined : env.dataDir,
  });
  try {
    const queue = await startQueue(database);
    const auth = createAuth({ db: database.db, secret: authSecret(env), baseUrl: env.baseUrl });
    const blobs = new BlobStore(path.join(env.dataDir, 'blobs'), database.db);
    return {
      env,
      database,
      db: database.db,
      auth,
      blobs,
      queue,
      localWorkerIds: new Set(),
      packageVersion,
      codeVersion: codeVersion(),
      tensorBackend: currentTensorBackend,
      close: async () => {
        await queue.stop({ graceful: false, timeout: 2000 });
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

/** The configured secret, or one generated on first start and kept (mode 600) in the data folder. */
function authSecret(env: Env): string {
  if (env.BETTER_AUTH_SECRET) return env.BETTER_AUTH_SECRET;
  const file = path.join(env.dataDir, 'auth-secret');
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, crypto.randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  }
  return fs.readFileSync(file, 'utf8').trim();
}
