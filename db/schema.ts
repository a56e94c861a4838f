/**
 * The one drizzle schema, shared by embedded PGlite and PostgreSQL (DESIGN.md §7).
 * Auth tables follow better-auth's core schema (user, session, account, verification).
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

// ---------- accounts (better-auth) ----------

export const user = pgTable('user', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  email: text('email').notNull().unique(),
  emailVerified: boolean('email_verified').notNull().default(false),
  image: text('image'),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const session = pgTable(
  'session',
  {
    id: text('id').primaryKey(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    token: text('token').notNull().unique(),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    ipAddress: text('ip_address'),
    userAgent: text('user_agent'),
    userId: text('user_id')
      .notNull()
      .references(() => user.id, { onDelete: 'cascade' }),
  },
  (t) => [index('session_user_idx').on(t.userId)],
);

export const account = pgTable(
  'account',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id').notNull(),
    providerId: text('provider_id').notNull(),
    userId: text('user_id')
      .notNull()
      .references(() => user.id, { onDelete: 'cascade' }),
    accessToken: text('access_token'),
    refreshToken: text('refresh_token'),
    idToken: text('id_token'),
    accessTokenExpiresAt: timestamp('access_token_expires_at', { withTimezone: true }),
    refreshTokenExpiresAt: timestamp('refresh_token_expires_at', { withTimezone: true }),
    scope: text('scope'),
    password: text('password'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('account_user_idx').on(t.userId)],
);

export const verification = pgTable('verification', {
  id: text('id').primaryKey(),
  identifier: text('identifier').notNull(),
  value: text('value').notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

// ---------- projects and access ----------

export const projectRole = pgEnum('project_role', ['owner', 'editor', 'viewer']);

export const projects = pgTable('projects', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  description: text('description').notNull().default(''),
  createdBy: text('created_by')
    .notNull()
    .references(() => user.id),
  createdAt: createdAt(),
});

export const projectMembers = pgTable(
  'project_members',
  {
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => user.id, { onDelete: 'cascade' }),
    role: projectRole('role').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.userId] }), index('project_members_user_idx').on(t.userId)],
);

// ---------- files ----------

/** Content-addressed bytes: the file lives at <dataDir>/blobs/<sha256[0:2]>/<sha256>. */
export const blobs = pgTable('blobs', {
  sha256: text('sha256').primaryKey(),
  sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
  createdAt: createdAt(),
});

export const datasets = pgTable(
  'datasets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    filename: text('filename').notNull(),
    mediaType: text('media_type').notNull(),
    blobSha256: text('blob_sha256')
      .notNull()
      .references(() => blobs.sha256),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    createdBy: text('created_by')
      .notNull()
      .references(() => user.id),
    createdAt: createdAt(),
  },
  (t) => [index('datasets_project_idx').on(t.projectId)],
);

// ---------- runs (jobs) ----------

export const runStatus = pgEnum('run_status', ['queued', 'running', 'succeeded', 'failed', 'cancelled']);

/** Live progress a job reports; the UI polls it. */
export interface RunProgress {
  fraction: number;
  step?: number;
  totalSteps?: number;
  message?: string;
  etaSeconds?: number;
  metrics?: Record<string, number>;
}

export const runs = pgTable(
  'runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    name: text('name').notNull(),
    config: jsonb('config').$type<Record<string, unknown>>().notNull(),
    seed: integer('seed').notNull(),
    status: runStatus('status').notNull().default('queued'),
    progress: jsonb('progress').$type<RunProgress>().notNull().default({ fraction: 0 }),
    cancelRequested: boolean('cancel_requested').notNull().default(false),
    attempts: integer('attempts').notNull().default(0),
    jobId: text('job_id'),
    backend: text('backend'),
    codeVersion: text('code_version').notNull(),
    metrics: jsonb('metrics').$type<Record<string, number>>(),
    timings: jsonb('timings').$type<Record<string, number>>(),
    error: text('error'),
    createdBy: text('created_by')
      .notNull()
      .references(() => user.id),
    createdAt: createdAt(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('runs_project_idx').on(t.projectId, t.createdAt)],
);

/** Results of a run (samples, curves, grids), written once, in the run's final transaction. */
export const runArtifacts = pgTable(
  'run_artifacts',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    data: jsonb('data').$type<unknown>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.name] })],
);

/**
 * Checkpoints of a running job (e.g. each model a perturbation fit has finished training): a retried
 * attempt — after a worker crash — loads them instead of redoing that work. Written only by the run's
 * current attempt; deleted when the run finishes.
 */
export const runCheckpoints = pgTable(
  'run_checkpoints',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    blobSha256: text('blob_sha256')
      .notNull()
      .references(() => blobs.sha256),
    attempt: integer('attempt').notNull(),
    savedAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.name] })],
);

export const runLogs = pgTable(
  'run_logs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    level: text('level').$type<'info' | 'warn' | 'error'>().notNull(),
    message: text('message').notNull(),
  },
  (t) => [index('run_logs_run_idx').on(t.runId, t.id)],
);

/** Trained models (flow weights, vocabularies); the weights are a blob. */
export const models = pgTable(
  'models',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    runId: uuid('run_id').references(() => runs.id, { onDelete: 'set null' }),
    kind: text('kind').notNull(),
    name: text('name').notNull(),
    weightsSha256: text('weights_sha256')
      .notNull()
      .references(() => blobs.sha256),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  // One model per (run, name): a retried job cannot store its model twice.
  (t) => [
    uniqueIndex('models_run_name_idx')
      .on(t.runId, t.name)
      .where(sql`${t.runId} is not null`),
  ],
);

// ---------- sharing ----------

/** Read-only links to one run's dashboard. Only the token's sha256 is stored. */
export const shareLinks = pgTable(
  'share_links',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tokenHash: text('token_hash').notNull().unique(),
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    createdBy: text('created_by')
      .notNull()
      .references(() => user.id),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [index('share_links_run_idx').on(t.runId)],
);

// ---------- preference campaigns (DESIGN.md §6) ----------

/** Settings of a campaign, fixed at creation. */
export interface PreferenceCampaignConfig {
  /** Options per query. */
  K: number;
  /** Steps of the generator MDP (tokens); 1 in pool mode (molecules). */
  horizon: number;
  criterion: 'aopt' | 'dopt' | 'random';
  /** Queries to ask (answered or skipped). */
  budget: number;
  /** λ of the MLE's λ‖θ‖²; the design starts from B = 2λ·Id. */
  lambda: number;
  seed: number;
}

/** What the options are made of: the synthetic token MDP (from the seed) or a molecule pool. */
export type PreferenceSpace =
  | {
      kind: 'tokens';
      vocab: number;
      dim: number;
      contextWeight: number;
      /** Seed of syntheticTokenMdp (derived from the campaign's seed). */
      mdpSeed: number;
      featureNames: string[];
    }
  | {
      kind: 'molecules';
      /** Pool size; the molecules are the campaign's preference_items. */
      size: number;
      source: 'default' | 'pasted' | 'run';
      /** The run whose molecules (samples of a prior, or a design's results) are the pool. */
      sourceRunId?: string;
      /**
       * Assembly mode: options are assembled from the library's fragments (server/preferences/assembly.ts);
       * `size` is then the number of distinct molecules the MDP can build, and there are no pool items.
       */
      assembly?: { horizon: number; vocab: number; mdpSeed: number; library: string[]; minMolecules: number };
      featureNames: string[];
      /** Raw feature = mean + sd · stored (z-scored over the pool) feature. */
      normalization: { mean: number[]; sd: number[] };
      /** Morgan bits projected to `dims` numbers by a seeded ±1 matrix (server/preferences/molecules.ts). */
      fingerprint: { radius: number; nBits: number; dims: number; projectionSeed: number };
    };

/** One option of a query as shown and as stored with its answer. */
export interface PreferenceOption {
  label: string;
  /** Pool index (molecules). */
  item?: number;
  smiles?: string;
  /** Token indices, one per step (tokens). */
  tokens?: number[];
  /** φ of the option, the features the MNL model reads. */
  features: number[];
}

/** The query waiting for an answer. */
export interface PendingPreferenceQuery {
  /** 1-based number of the query in the campaign. */
  index: number;
  options: PreferenceOption[];
  /** f(B + I(Φ)) of the query (NaN-free; null for random selection). */
  objective: number | null;
  designMs: number;
  designedAt: string;
}

export const preferenceCampaigns = pgTable(
  'preference_campaigns',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    domain: text('domain').$type<'tokens' | 'molecules'>().notNull(),
    config: jsonb('config').$type<PreferenceCampaignConfig>().notNull(),
    space: jsonb('space').$type<PreferenceSpace>().notNull(),
    status: text('status').$type<'active' | 'completed'>().notNull().default('active'),
    /** θ̂ and its standard errors √diag(H⁻¹) after the latest answer. */
    theta: jsonb('theta').$type<number[]>().notNull(),
    standardErrors: jsonb('standard_errors').$type<number[]>().notNull(),
    pendingQuery: jsonb('pending_query').$type<PendingPreferenceQuery>(),
    answeredCount: integer('answered_count').notNull().default(0),
    skippedCount: integer('skipped_count').notNull().default(0),
    /** The member asked to answer (any editor may). */
    assigneeId: text('assignee_id').references(() => user.id, { onDelete: 'set null' }),
    createdBy: text('created_by')
      .notNull()
      .references(() => user.id),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('preference_campaigns_project_idx').on(t.projectId, t.createdAt)],
);

/** A molecule campaign's pool: features z-scored over the pool, raw properties for display. */
export const preferenceItems = pgTable(
  'preference_items',
  {
    campaignId: uuid('campaign_id')
      .notNull()
      .references(() => preferenceCampaigns.id, { onDelete: 'cascade' }),
    index: integer('index').notNull(),
    label: text('label').notNull(),
    smiles: text('smiles').notNull(),
    features: jsonb('features').$type<number[]>().notNull(),
    properties: jsonb('properties').$type<Record<string, number>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.index] })],
);

/** One shown query and what became of it: a choice, or a skip (choice null). */
export const preferenceAnswers = pgTable(
  'preference_answers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    campaignId: uuid('campaign_id')
      .notNull()
      .references(() => preferenceCampaigns.id, { onDelete: 'cascade' }),
    index: integer('index').notNull(),
    options: jsonb('options').$type<PreferenceOption[]>().notNull(),
    choice: integer('choice'),
    answeredBy: text('answered_by')
      .notNull()
      .references(() => user.id),
    thetaAfter: jsonb('theta_after').$type<number[]>().notNull(),
    standardErrorsAfter: jsonb('standard_errors_after').$type<number[]>().notNull(),
    /** From the query's design to its answer. */
    secondsTaken: doublePrecision('seconds_taken').notNull(),
    /** Server time of the refit and of designing the next query, in ms. */
    timings: jsonb('timings').$type<{ fitMs: number; designMs: number; totalMs: number }>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('preference_answers_campaign_index_idx').on(t.campaignId, t.index)],
);
