/**
 * Preference campaigns in the database (issue 6 item 4): create one, show its pending query, take an answer
 * (a choice or a skip), refit θ̂ and design the next query in the same transaction, and the dashboard.
 *
 * Answering is serialised per campaign (the campaign row is locked for update) and idempotent: the answer
 * names the query it answers by its index, so a second submission of the same answer returns the stored
 * result, and an answer to any other query than the pending one is refused as stale.
 */
import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { AppDb, AppTx } from '../../db/client';
import {
  preferenceAnswers,
  preferenceCampaigns,
  preferenceItems,
  projectMembers,
  runArtifacts,
  runs,
  user,
  type PendingPreferenceQuery,
  type PreferenceCampaignConfig,
  type PreferenceSpace,
} from '../../db/schema';
import type { PreferenceObservation } from '../engines/pbrl';
import { createRng } from '../engines/random';
import { MAX_POOL_MOLECULES, PreferenceError, type CreateCampaignInput } from './config';
import {
  designNextQuery,
  featureDimension,
  optionMatrix,
  priorEstimate,
  refitEstimate,
  tokenLetter,
  type PoolCandidates,
} from './design';
import { assemblyMdp } from './assembly';
import type { FragmentAssemblyMdp } from '../molecules/fragments';
import {
  buildMoleculePool,
  FINGERPRINT_PROJECTION,
  MOLECULE_FEATURE_NAMES,
  moleculeProperties,
  moleculeSvg,
} from './molecules';

type Campaign = typeof preferenceCampaigns.$inferSelect;
type Db = AppDb | AppTx;

/** The campaign's project, or null when there is no such campaign. */
export async function projectOfCampaign(db: Db, campaignId: string): Promise<string | null> {
  const [row] = await db
    .select({ projectId: preferenceCampaigns.projectId })
    .from(preferenceCampaigns)
    .where(eq(preferenceCampaigns.id, campaignId));
  return row?.projectId ?? null;
}

async function loadCampaign(db: Db, campaignId: string): Promise<Campaign> {
  const [campaign] = await db
    .select()
    .from(preferenceCampaigns)
    .where(eq(preferenceCampaigns.id, campaignId));
  if (!campaign) throw new PreferenceError('NOT_FOUND', 'Campaign not found.');
  return campaign;
}

// ------------------------------------------------------------------------------------------- pool

const poolCache = new Map<string, PoolCandidates>();

/** A molecule campaign's candidates (immutable after creation, so cached per campaign). */
async function loadPool(db: Db, campaign: Campaign): Promise<PoolCandidates | undefined> {
  if (campaign.space.kind !== 'molecules') return undefined;
  const cached = poolCache.get(campaign.id);
  if (cached) return cached;
  const rows = await db
    .select({
      index: preferenceItems.index,
      label: preferenceItems.label,
      smiles: preferenceItems.smiles,
      features: preferenceItems.features,
    })
    .from(preferenceItems)
    .where(eq(preferenceItems.campaignId, campaign.id))
    .orderBy(asc(preferenceItems.index));
  const d = featureDimension(campaign.space);
  const features = new Float64Array(rows.length * d);
  rows.forEach((row, i) => features.set(row.features, i * d));
  const pool = { features, labels: rows.map((row) => row.label), smiles: rows.map((row) => row.smiles) };
  if (poolCache.size >= 32) poolCache.delete(poolCache.keys().next().value as string);
  poolCache.set(campaign.id, pool);
  return pool;
}

/** An assembly campaign's MDP (rebuilt from its stored settings; cached in server/preferences/assembly.ts). */
async function loadAssembly(campaign: Campaign): Promise<FragmentAssemblyMdp | undefined> {
  return campaign.space.kind === 'molecules' && campaign.space.assembly
    ? assemblyMdp(campaign.space.assembly)
    : undefined;
}

// ----------------------------------------------------------------------------------------- create

export interface NewCampaign {
  projectId: string;
  userId: string;
  input: CreateCampaignInput;
}

/** Creates a campaign with its first query designed; returns its id. */
export async function createCampaign(db: AppDb, { projectId, userId, input }: NewCampaign) {
  let assigneeId: string | null = null;
  if (input.assignee) {
    const [member] = await db
      .select({ id: user.id, role: projectMembers.role })
      .from(projectMembers)
      .innerJoin(user, eq(user.id, projectMembers.userId))
      .where(and(eq(projectMembers.projectId, projectId), eq(user.email, input.assignee.toLowerCase())));
    if (!member || member.role === 'viewer') {
      throw new PreferenceError(
        'BAD_REQUEST',
        `${input.assignee} is not an editor of this project; only editors and owners answer queries.`,
      );
    }
    assigneeId = member.id;
  }

  const seed = input.seed ?? Math.floor(Math.random() * 2 ** 31);
  const config: PreferenceCampaignConfig = {
    K: input.K,
    horizon: input.domain === 'tokens' ? input.horizon : 1,
    criterion: input.criterion,
    budget: input.budget,
    lambda: input.lambda,
    seed,
  };
  let space: PreferenceSpace;
  let items: (typeof preferenceItems.$inferInsert)[] = [];
  let pool: PoolCandidates | undefined;
  let assembly: FragmentAssemblyMdp | undefined;
  if (input.domain === 'tokens') {
    space = {
      kind: 'tokens',
      vocab: input.vocab,
      dim: input.dim,
      contextWeight: 0.5,
      mdpSeed: createRng(seed).nextSeed(),
      featureNames: Array.from({ length: input.dim }, (_, j) => `φ${j + 1}`),
    };
  } else {
    if (input.sourceRunId && input.smiles?.trim())
      throw new PreferenceError('BAD_REQUEST', 'give either pasted SMILES or a run to take molecules from');
    const text = input.sourceRunId ? await runMoleculesText(db, projectId, input.sourceRunId) : input.smiles;
    const molecules = await buildMoleculePool(text, input.assembly ? 1 : input.K + 1);
    if (input.assembly) {
      const settings = {
        horizon: input.assembly.horizon,
        vocab: input.assembly.vocab,
        mdpSeed: createRng(seed).nextSeed(),
        library: molecules.molecules.map((molecule) => molecule.smiles),
        minMolecules: input.K,
      };
      assembly = await assemblyMdp(settings);
      config.horizon = settings.horizon;
      space = {
        kind: 'molecules',
        size: assembly.molecules.length,
        source: input.sourceRunId ? 'run' : input.smiles?.trim() ? 'pasted' : 'default',
        ...(input.sourceRunId ? { sourceRunId: input.sourceRunId } : {}),
        featureNames: [...MOLECULE_FEATURE_NAMES],
        normalization: assembly.normalization!,
        fingerprint: { ...FINGERPRINT_PROJECTION },
        assembly: settings,
      };
    } else {
      space = {
        kind: 'molecules',
        size: molecules.molecules.length,
        source: input.sourceRunId ? 'run' : input.smiles?.trim() ? 'pasted' : 'default',
        ...(input.sourceRunId ? { sourceRunId: input.sourceRunId } : {}),
        featureNames: [...MOLECULE_FEATURE_NAMES],
        normalization: molecules.normalization,
        fingerprint: { ...FINGERPRINT_PROJECTION },
      };
      const d = MOLECULE_FEATURE_NAMES.length;
      pool = {
        features: new Float64Array(molecules.features.flat()),
        labels: molecules.molecules.map((molecule) => molecule.label),
        smiles: molecules.molecules.map((molecule) => molecule.smiles),
      };
      if (pool.features.length !== molecules.molecules.length * d) throw new Error('pool features misshapen');
      items = molecules.molecules.map((molecule, index) => ({
        campaignId: '',
        index,
        label: molecule.label,
        smiles: molecule.smiles,
        features: molecules.features[index],
        properties: molecule.properties,
      }));
    }
  }
  const first = designNextQuery({ config, space, pool, assembly, shown: [], index: 1 });
  const prior = priorEstimate(featureDimension(space), config.lambda);
  return db.transaction(async (tx) => {
    const [campaign] = await tx
      .insert(preferenceCampaigns)
      .values({
        projectId,
        name: input.name,
        domain: input.domain,
        config,
        space,
        theta: prior.theta,
        standardErrors: prior.standardErrors,
        pendingQuery: pendingOf(1, first),
        assigneeId,
        createdBy: userId,
      })
      .returning({ id: preferenceCampaigns.id });
    for (let start = 0; start < items.length; start += 250) {
      await tx
        .insert(preferenceItems)
        .values(items.slice(start, start + 250).map((item) => ({ ...item, campaignId: campaign.id })));
    }
    return { id: campaign.id };
  });
}

/** Kinds of run whose stored molecules can be a campaign's pool. */
const MOLECULE_RUN_KINDS = ['molecule-prior', 'molecule-design'];

/**
 * The molecules of a finished molecule run of the project as pool text (one `SMILES label` a line): a
 * prior run stores up to 500 distinct valid samples, a design run its results, best first.
 */
async function runMoleculesText(db: Db, projectId: string, runId: string): Promise<string> {
  const [run] = await db
    .select({ kind: runs.kind, status: runs.status, name: runs.name })
    .from(runs)
    .where(and(eq(runs.id, runId), eq(runs.projectId, projectId)));
  if (!run) throw new PreferenceError('NOT_FOUND', 'That run is not in this project.');
  if (!MOLECULE_RUN_KINDS.includes(run.kind))
    throw new PreferenceError(
      'BAD_REQUEST',
      `"${run.name}" is a ${run.kind} run; pick a molecular prior or design run.`,
    );
  if (run.status !== 'succeeded')
    throw new PreferenceError('BAD_REQUEST', `"${run.name}" has not finished (${run.status}).`);
  const [artifact] = await db
    .select({ data: runArtifacts.data })
    .from(runArtifacts)
    .where(and(eq(runArtifacts.runId, runId), eq(runArtifacts.name, 'molecules')));
  const rows = Array.isArray(artifact?.data) ? (artifact.data as { smiles?: unknown }[]) : [];
  const smiles = rows.map((row) => row.smiles).filter((s): s is string => typeof s === 'string' && s !== '');
  if (smiles.length === 0) throw new PreferenceError('BAD_REQUEST', `"${run.name}" stored no molecules.`);
  return smiles
    .slice(0, MAX_POOL_MOLECULES)
    .map((s, i) => `${s} ${run.kind === 'molecule-prior' ? 'sample' : 'design'} ${i + 1}`)
    .join('\n');
}

function pendingOf(index: number, designed: ReturnType<typeof designNextQuery>): PendingPreferenceQuery {
  return {
    index,
    options: designed.options,
    objective: designed.objective,
    designMs: designed.designMs,
    designedAt: new Date().toISOString(),
  };
}

// ------------------------------------------------------------------------------------------- read

/** The project's campaigns, newest first. */
export async function listCampaigns(db: Db, projectId: string) {
  const assignee = alias(user, 'assignee');
  const rows = await db
    .select({
      id: preferenceCampaigns.id,
      name: preferenceCampaigns.name,
      domain: preferenceCampaigns.domain,
      config: preferenceCampaigns.config,
      status: preferenceCampaigns.status,
      answered: preferenceCampaigns.answeredCount,
      skipped: preferenceCampaigns.skippedCount,
      createdAt: preferenceCampaigns.createdAt,
      updatedAt: preferenceCampaigns.updatedAt,
      createdBy: user.name,
      assignee: assignee.email,
    })
    .from(preferenceCampaigns)
    .innerJoin(user, eq(user.id, preferenceCampaigns.createdBy))
    .leftJoin(assignee, eq(assignee.id, preferenceCampaigns.assigneeId))
    .where(eq(preferenceCampaigns.projectId, projectId))
    .orderBy(desc(preferenceCampaigns.createdAt))
    .limit(200);
  return rows;
}

/** Everything the dashboard shows: the estimate, the history of answers and how θ̂ moved. */
export async function campaignDashboard(db: Db, campaignId: string) {
  const assignee = alias(user, 'assignee');
  const [row] = await db
    .select({ campaign: preferenceCampaigns, createdBy: user.name, assignee: assignee.email })
    .from(preferenceCampaigns)
    .innerJoin(user, eq(user.id, preferenceCampaigns.createdBy))
    .leftJoin(assignee, eq(assignee.id, preferenceCampaigns.assigneeId))
    .where(eq(preferenceCampaigns.id, campaignId));
  if (!row) throw new PreferenceError('NOT_FOUND', 'Campaign not found.');
  const answers = await db
    .select({
      index: preferenceAnswers.index,
      choice: preferenceAnswers.choice,
      options: preferenceAnswers.options,
      thetaAfter: preferenceAnswers.thetaAfter,
      standardErrorsAfter: preferenceAnswers.standardErrorsAfter,
      secondsTaken: preferenceAnswers.secondsTaken,
      timings: preferenceAnswers.timings,
      createdAt: preferenceAnswers.createdAt,
      answeredBy: user.name,
      answeredByEmail: user.email,
    })
    .from(preferenceAnswers)
    .innerJoin(user, eq(user.id, preferenceAnswers.answeredBy))
    .where(eq(preferenceAnswers.campaignId, campaignId))
    .orderBy(asc(preferenceAnswers.index));
  const { campaign } = row;
  return {
    campaign: {
      id: campaign.id,
      projectId: campaign.projectId,
      name: campaign.name,
      domain: campaign.domain,
      config: campaign.config,
      space: campaign.space,
      featureNames: campaign.space.featureNames,
      status: campaign.status,
      theta: campaign.theta,
      standardErrors: campaign.standardErrors,
      answered: campaign.answeredCount,
      skipped: campaign.skippedCount,
      pendingIndex: campaign.pendingQuery?.index ?? null,
      createdBy: row.createdBy,
      assignee: row.assignee,
      createdAt: campaign.createdAt,
      updatedAt: campaign.updatedAt,
    },
    answers: answers.map(({ options, ...answer }) => ({
      ...answer,
      skipped: answer.choice === null,
      options: options.map(({ features: _features, ...option }) => option),
    })),
  };
}

// ------------------------------------------------------------------------------------ the query

export interface QueryOptionView {
  label: string;
  smiles?: string;
  /** Letters of the tokens (tokens domain). */
  tokens?: string[];
  features: number[];
  /** RDKit depiction (molecules domain). */
  svg?: string;
  properties?: Record<string, number>;
}

export interface QueryView {
  campaignId: string;
  index: number;
  K: number;
  budget: number;
  answered: number;
  skipped: number;
  featureNames: string[];
  options: QueryOptionView[];
  designMs: number;
}

/** The pending query as shown to a person: depictions and properties of molecules, token letters. */
export async function queryView(
  db: Db,
  campaign: Campaign,
  pending: PendingPreferenceQuery,
): Promise<QueryView> {
  let properties = new Map<number, Record<string, number>>();
  const items = pending.options.flatMap((option) => (option.item === undefined ? [] : [option.item]));
  if (items.length) {
    const rows = await db
      .select({ index: preferenceItems.index, properties: preferenceItems.properties })
      .from(preferenceItems)
      .where(and(eq(preferenceItems.campaignId, campaign.id), inArray(preferenceItems.index, items)));
    properties = new Map(rows.map((row) => [row.index, row.properties]));
  }
  const options = await Promise.all(
    pending.options.map(async (option): Promise<QueryOptionView> => ({
      label: option.label,
      smiles: option.smiles,
      // Assembled molecules carry their path as tokens; only the tokens domain shows letters.
      tokens: option.smiles === undefined ? option.tokens?.map(tokenLetter) : undefined,
      features: option.features,
      svg: option.smiles ? await moleculeSvg(option.smiles) : undefined,
      properties:
        option.item !== undefined
          ? properties.get(option.item)
          : option.smiles
            ? await moleculeProperties(option.smiles)
            : undefined,
    })),
  );
  return {
    campaignId: campaign.id,
    index: pending.index,
    K: campaign.config.K,
    budget: campaign.config.budget,
    answered: campaign.answeredCount,
    skipped: campaign.skippedCount,
    featureNames: campaign.space.featureNames,
    options,
    designMs: pending.designMs,
  };
}

/** The stored options of the queries shown so far (answered or skipped), in order. */
async function shownQueries(db: Db, campaignId: string) {
  return db
    .select({
      index: preferenceAnswers.index,
      options: preferenceAnswers.options,
      choice: preferenceAnswers.choice,
    })
    .from(preferenceAnswers)
    .where(eq(preferenceAnswers.campaignId, campaignId))
    .orderBy(asc(preferenceAnswers.index));
}

/**
 * The query waiting for an answer, designed now if the campaign has none (it normally has: every answer
 * designs the next); null once the budget is used.
 */
export async function nextQuery(db: AppDb, campaignId: string): Promise<QueryView | null> {
  const campaign = await loadCampaign(db, campaignId);
  if (campaign.status === 'completed') return null;
  if (campaign.pendingQuery) return queryView(db, campaign, campaign.pendingQuery);
  // Built (or taken from the cache) before the row lock: a rebuild takes seconds (space is immutable).
  const assembly = await loadAssembly(campaign);
  const updated = await db.transaction(async (tx) => {
    const [locked] = await tx
      .select()
      .from(preferenceCampaigns)
      .where(eq(preferenceCampaigns.id, campaignId))
      .for('update');
    if (locked.status === 'completed' || locked.pendingQuery) return locked;
    const shown = await shownQueries(tx, campaignId);
    const index = (shown.at(-1)?.index ?? 0) + 1;
    const designed = designNextQuery({
      config: locked.config,
      space: locked.space,
      pool: await loadPool(tx, locked),
      assembly,
      shown: shown.map((query) => optionMatrix(query.options)),
      index,
    });
    const [row] = await tx
      .update(preferenceCampaigns)
      .set({ pendingQuery: pendingOf(index, designed), updatedAt: new Date() })
      .where(eq(preferenceCampaigns.id, campaignId))
      .returning();
    return row;
  });
  return updated.pendingQuery ? queryView(db, updated, updated.pendingQuery) : null;
}

// ----------------------------------------------------------------------------------------- answer

export interface AnswerInput {
  campaignId: string;
  userId: string;
  /** The index of the query answered (QueryView.index). */
  queryIndex: number;
  /** The chosen option (0-based), or null to skip the query. */
  choice: number | null;
}

export interface AnswerResult {
  /** True when this answer had already been stored (a repeated submission): nothing changed. */
  duplicate: boolean;
  index: number;
  choice: number | null;
  theta: number[];
  standardErrors: number[];
  answered: number;
  skipped: number;
  status: 'active' | 'completed';
  timings: { fitMs: number; designMs: number; totalMs: number };
  campaign: Campaign;
}

function describeChoice(choice: number | null): string {
  return choice === null ? 'skipped' : `option ${choice + 1} chosen`;
}

/** Stores an answer, refits θ̂ and designs the next query, all in one transaction (header). */
export async function answerQuery(db: AppDb, input: AnswerInput): Promise<AnswerResult> {
  const started = performance.now();
  // An assembly campaign's MDP, built (or taken from the cache) before the row lock: a rebuild after a
  // restart takes seconds, and the campaign's space never changes.
  const [unlocked] = await db
    .select()
    .from(preferenceCampaigns)
    .where(eq(preferenceCampaigns.id, input.campaignId));
  const assembly = unlocked ? await loadAssembly(unlocked) : undefined;
  return db.transaction(async (tx) => {
    const [campaign] = await tx
      .select()
      .from(preferenceCampaigns)
      .where(eq(preferenceCampaigns.id, input.campaignId))
      .for('update');
    if (!campaign) throw new PreferenceError('NOT_FOUND', 'Campaign not found.');
    const [previous] = await tx
      .select()
      .from(preferenceAnswers)
      .where(
        and(eq(preferenceAnswers.campaignId, campaign.id), eq(preferenceAnswers.index, input.queryIndex)),
      );
    if (previous) {
      if (previous.choice !== input.choice) {
        throw new PreferenceError(
          'CONFLICT',
          `Query ${input.queryIndex} was already answered (${describeChoice(previous.choice)}).`,
        );
      }
      return {
        duplicate: true,
        index: previous.index,
        choice: previous.choice,
        theta: campaign.theta,
        standardErrors: campaign.standardErrors,
        answered: campaign.answeredCount,
        skipped: campaign.skippedCount,
        status: campaign.status,
        timings: previous.timings,
        campaign,
      };
    }
    const pending = campaign.pendingQuery;
    if (!pending || pending.index !== input.queryIndex) {
      throw new PreferenceError(
        'CONFLICT',
        pending
          ? `Query ${input.queryIndex} is not the one waiting for an answer (query ${pending.index} is).`
          : `Query ${input.queryIndex} is not the one waiting for an answer: the campaign has used its budget of ${campaign.config.budget} queries.`,
      );
    }
    if (input.choice !== null && !(input.choice < pending.options.length)) {
      throw new PreferenceError(
        'BAD_REQUEST',
        `choice must be one of the query's ${pending.options.length} options (0–${pending.options.length - 1}).`,
      );
    }

    const { config, space } = campaign;
    const d = featureDimension(space);
    const shown = await shownQueries(tx, campaign.id);
    const observations: PreferenceObservation[] = shown.flatMap((query) =>
      query.choice === null ? [] : [{ options: optionMatrix(query.options), choice: query.choice }],
    );
    const current = optionMatrix(pending.options);
    const fit =
      input.choice === null
        ? { theta: campaign.theta, standardErrors: campaign.standardErrors, fitMs: 0 }
        : refitEstimate(
            [...observations, { options: current, choice: input.choice }],
            d,
            config.lambda,
            campaign.theta,
          );

    const answered = campaign.answeredCount + (input.choice === null ? 0 : 1);
    const skipped = campaign.skippedCount + (input.choice === null ? 1 : 0);
    let next: PendingPreferenceQuery | null = null;
    if (answered + skipped < config.budget) {
      const designed = designNextQuery({
        config,
        space,
        pool: await loadPool(tx, campaign),
        assembly,
        shown: [...shown.map((query) => optionMatrix(query.options)), current],
        exclude:
          input.choice === null
            ? pending.options.flatMap((option) => (option.item === undefined ? [] : [option.item]))
            : undefined,
        index: pending.index + 1,
      });
      next = pendingOf(pending.index + 1, designed);
    }
    const status = next ? 'active' : 'completed';
    const timings = {
      fitMs: fit.fitMs,
      designMs: next?.designMs ?? 0,
      totalMs: performance.now() - started,
    };
    await tx.insert(preferenceAnswers).values({
      campaignId: campaign.id,
      index: pending.index,
      options: pending.options,
      choice: input.choice,
      answeredBy: input.userId,
      thetaAfter: fit.theta,
      standardErrorsAfter: fit.standardErrors,
      secondsTaken: Math.max(0, (Date.now() - Date.parse(pending.designedAt)) / 1000),
      timings,
    });
    const [updated] = await tx
      .update(preferenceCampaigns)
      .set({
        theta: fit.theta,
        standardErrors: fit.standardErrors,
        pendingQuery: next,
        answeredCount: answered,
        skippedCount: skipped,
        status,
        updatedAt: new Date(),
      })
      .where(eq(preferenceCampaigns.id, campaign.id))
      .returning();
    return {
      duplicate: false,
      index: pending.index,
      choice: input.choice,
      theta: fit.theta,
      standardErrors: fit.standardErrors,
      answered,
      skipped,
      status,
      timings,
      campaign: updated,
    };
  });
}
