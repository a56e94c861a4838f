/**
 * Environment, validated once with zod. Every setting the platform reads from the
 * environment is declared here, with its default; nothing else reads process.env.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

const booleanFlag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no'])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

export const envSchema = z.object({
  /** PostgreSQL server; when unset the platform runs on embedded PGlite in TRIBUTARY_DATA_DIR. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must start with postgres:// or postgresql://')
    .optional(),
  /** Folder for the embedded database, blobs and the generated auth secret. */
  TRIBUTARY_DATA_DIR: z.string().min(1).default('.tributary'),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  /** Interface to listen on; unset listens on all interfaces. */
  HOST: z.string().min(1).optional(),
  /** Public address of the platform (used in share links and by the auth library). */
  TRIBUTARY_BASE_URL: z.url().optional(),
  /** Secret that signs session cookies; generated and kept in the data folder when unset. */
  BETTER_AUTH_SECRET: z.string().min(32, 'BETTER_AUTH_SECRET must have at least 32 characters').optional(),
  /** Largest accepted upload, in bytes. */
  TRIBUTARY_UPLOAD_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(256 * 1024 * 1024),
  /** `in-process`: `npm start` also runs a job worker; `off`: run workers with `npm run worker`. */
  TRIBUTARY_WORKER: z.enum(['in-process', 'off']).default('in-process'),
  /** Jobs one worker process runs at the same time. */
  TRIBUTARY_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  /** Tensor backend: `auto` picks the best that loads (tfjs-node-gpu, tfjs-node, wasm, cpu). */
  TRIBUTARY_TENSOR_BACKEND: z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  /**
   * Native matrix products under the wasm backend (native/ addon): `auto` uses OpenBLAS when the addon was
   * built with it, else the addon's portable SGEMM, else plain WASM; `openblas` / `portable` insist on
   * that path; `off` keeps the WASM backend's own kernels.
   */
  TRIBUTARY_NATIVE_KERNELS: z.enum(['auto', 'openblas', 'portable', 'off']).default('auto'),
  /** Threads for one native matrix product; default: the cores this process may use. */
  TRIBUTARY_BLAS_THREADS: z.coerce
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(() => os.availableParallelism()),
  /** Create the demo account and project on first start. */
  TRIBUTARY_DEMO: booleanFlag.default(true),
});

export type Env = z.infer<typeof envSchema> & { dataDir: string; baseUrl: string };

/** Parses an environment (process.env by default) into a typed, validated Env, or throws one readable error. */
export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const env = validate(envSchema, source);
  return {
    ...env,
    dataDir: path.resolve(env.TRIBUTARY_DATA_DIR),
    baseUrl: env.TRIBUTARY_BASE_URL ?? `http://localhost:${env.PORT}`,
  };
}

const tensorSettingsSchema = envSchema.pick({
  TRIBUTARY_TENSOR_BACKEND: true,
  TRIBUTARY_NATIVE_KERNELS: true,
  TRIBUTARY_BLAS_THREADS: true,
});

export type TensorSettings = z.infer<typeof tensorSettingsSchema>;

/**
 * Only the tensor settings, for the engines' backend selection: validating them alone keeps an unrelated
 * bad variable (say PORT) from breaking a headless computation, and the full `loadEnv` still rejects it.
 */
export function loadTensorSettings(source: Record<string, string | undefined> = process.env): TensorSettings {
  return validate(tensorSettingsSchema, source);
}

/** Empty variables count as unset; a failure lists every bad variable in one readable error. */
function validate<T>(schema: z.ZodType<T>, source: Record<string, string | undefined>): T {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid environment:\n${lines.join('\n')}`);
  }
  return result.data;
}

let cached: Env | undefined;
/** The process environment, parsed on first use. */
export function loadEnv(): Env {
  cached ??= parseEnv();
  return cached;
}
