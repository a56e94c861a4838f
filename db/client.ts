/**
 * Database factory: embedded PGlite in a data folder (the default) or a PostgreSQL server
 * through postgres-js when a URL is given. Same drizzle schema, same migrations.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as schema from './schema';

export type AppDb = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction handle, usable wherever a query builder is. */
export type AppTx = Parameters<Parameters<AppDb['transaction']>[0]>[0];

export interface Database {
  db: AppDb;
  mode: 'pglite' | 'postgresql';
  /** The PGlite instance in embedded mode (pg-boss shares it). */
  pglite?: PGlite;
  /** Where the data lives, for logs: a folder, 'memory', or the server without password. */
  location: string;
  /** The PostgreSQL URL (with credentials) in server mode, for the queue's own pool. */
  url?: string;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL URL; when absent, PGlite is used. */
  url?: string;
  /** PGlite data folder; `undefined` with no url means in memory (tests). */
  dataDir?: string;
}

export const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

/** Opens (creating and migrating on first use) the platform's database. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.url) {
    const client = postgres(options.url, { max: 10, onnotice: () => {} });
    const db = drizzlePostgres(client, { schema });
    await migratePostgres(db, { migrationsFolder });
    const location = options.url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
    return {
      db: db as unknown as AppDb,
      mode: 'postgresql',
      location,
      url: options.url,
      close: () => client.end(),
    };
  }

  let releaseLock = () => {};
  let pglite: PGlite;
  if (options.dataDir) {
    const pgDir = path.join(options.dataDir, 'pglite');
    fs.mkdirSync(pgDir, { recursive: true });
    releaseLock = lockDataFolder(options.dataDir);
    pglite = new PGlite(pgDir);
  } else {
    pglite = new PGlite();
  }
  try {
    await pglite.waitReady;
    const db = drizzlePglite(pglite, { schema });
    await migratePglite(db, { migrationsFolder });
    return {
      db: db as unknown as AppDb,
      mode: 'pglite',
      pglite,
      location: options.dataDir ?? 'memory',
      close: async () => {
        await pglite.close();
        releaseLock();
      },
    };
  } catch (error) {
    releaseLock();
    throw error;
  }
}

/**
 * PGlite allows one process per data folder: two processes opening it silently diverge.
 * A lock file holding our pid guards it; a lock left by a dead process is taken over.
 */
export function lockDataFolder(dataDir: string): () => void {
  const lockPath = path.join(dataDir, 'tributary.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(lockPath, 'utf8'));
      if (holder && holder !== process.pid && isAlive(holder)) {
        throw new Error(
          `The data folder ${dataDir} is in use by process ${holder}. Embedded PGlite allows one process per ` +
            `folder: stop that process, choose another TRIBUTARY_DATA_DIR, or set DATABASE_URL to use PostgreSQL ` +
            `for several processes.`,
          { cause: error },
        );
      }
      fs.rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`Could not lock the data folder ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
