/**
 * Accounts with better-auth (email + password, sessions in httpOnly cookies) on the drizzle schema.
 */
import { betterAuth } from 'better-auth';
import { drizzleAdapter } from 'better-auth/adapters/drizzle';
import type { AppDb } from '../db/client';
import { account, session, user, verification } from '../db/schema';

export interface AuthOptions {
  db: AppDb;
  secret: string;
  baseUrl: string;
}

export function createAuth({ db, secret, baseUrl }: AuthOptions) {
  return betterAuth({
    appName: 'Tributary',
    baseURL: baseUrl,
    secret,
    database: drizzleAdapter(db, { provider: 'pg', schema: { user, session, account, verification } }),
    emailAndPassword: { enabled: true, autoSignIn: true, minPasswordLength: 8 },
    // Any port on localhost may serve the app (tests pick free ports), plus the configured address.
    trustedOrigins: [baseUrl, 'http://localhost:*', 'http://127.0.0.1:*'],
    telemetry: { enabled: false },
    advanced: { database: { generateId: () => crypto.randomUUID() } },
  });
}

export type Auth = ReturnType<typeof createAuth>;
export type SessionUser = Auth['$Infer']['Session']['user'];
