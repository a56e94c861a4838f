/**
 * GET /api/runs/:runId/perturbation/:file — a perturbation run's results as CSV (issue 5, item 7 "export"):
 *  - `causal.csv`: CLIPR's matrix, as `tributary perturb clipr` writes it — a header row of gene names, then
 *    the d × d matrix whose row i, column j is the effect of gene i on gene j;
 *  - `metrics.csv`: the held-out metrics table, one row per held-out condition (and their mean), predictor
 *    and gene set (all genes or the condition's top-20 DE genes).
 * Members of the run's project only (viewer and up), like the dashboard itself; anyone else gets 404.
 */
import { TRPCError } from '@trpc/server';
import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import { requireProjectRole } from './api/trpc';
import { loadRunDashboard } from './dashboard';
import type { Runtime } from './runtime';

const runIdSchema = z.uuid();

export const PERTURBATION_EXPORTS = ['causal.csv', 'metrics.csv'] as const;
export type PerturbationExport = (typeof PERTURBATION_EXPORTS)[number];

const METRICS = ['rmse_mean', 'pearson_shift', 'energy_distance', 'mmd'] as const;
type MetricRow = Partial<Record<(typeof METRICS)[number], number | null>>;
type ScoredRow = Record<string, unknown> & { perturbation?: string };

interface StoredPerturbation {
  summary?: {
    metrics?: {
      per_combination?: ScoredRow[];
      mean?: ScoredRow | null;
      held_out_singles?: { per_gene?: ScoredRow[]; mean?: ScoredRow | null };
    };
  };
  causal?: { genes?: string[]; effects?: number[][] };
}

const notFound = (error: string) => Response.json({ error }, { status: 404 });

/** Predictor entries of a scored row: keys whose value is `{ all, top_de }` (skips counts and gene lists). */
function predictorsOf(row: ScoredRow): [string, { all: MetricRow; top_de: MetricRow }][] {
  return Object.entries(row).flatMap(([key, value]) =>
    value !== null && typeof value === 'object' && 'all' in value && 'top_de' in value
      ? [
          [key, value as { all: MetricRow; top_de: MetricRow }] as [
            string,
            { all: MetricRow; top_de: MetricRow },
          ],
        ]
      : [],
  );
}

/** The held-out metrics as long-format CSV rows: condition, kind, predictor, gene set, then the metrics. */
export function perturbationMetricsCsv(perturbation: StoredPerturbation): string {
  const metrics = perturbation.summary?.metrics ?? {};
  const rows: (string | number)[][] = [['condition', 'kind', 'predictor', 'genes', ...METRICS]];
  const add = (condition: string, kind: string, row: ScoredRow) => {
    for (const [predictor, sets] of predictorsOf(row))
      for (const set of ['all', 'top_de'] as const)
        rows.push([
          condition,
          kind,
          predictor,
          set,
          ...METRICS.map((metric) => {
            const value = sets[set]?.[metric];
            return typeof value === 'number' && Number.isFinite(value) ? value : '';
          }),
        ]);
  };
  for (const row of metrics.per_combination ?? []) add(String(row.perturbation), 'combination', row);
  if (metrics.mean) add('mean', 'combination', metrics.mean);
  for (const row of metrics.held_out_singles?.per_gene ?? []) add(String(row.perturbation), 'single', row);
  if (metrics.held_out_singles?.mean) add('mean', 'single', metrics.held_out_singles.mean);
  return stringify(rows);
}

/** CLIPR's matrix as `tributary perturb clipr` writes it: genes, then row i = effects of gene i. */
export function cliprMatrixCsv(genes: readonly string[], effects: readonly (readonly number[])[]): string {
  return stringify([[...genes], ...effects.map((row) => [...row])]);
}

export async function handlePerturbationExport(
  runtime: Runtime,
  request: Request,
  runId: string,
  file: string,
): Promise<Response> {
  const session = await runtime.auth.api.getSession({ headers: request.headers });
  if (!session) return Response.json({ error: 'Sign in to download results.' }, { status: 401 });
  if (!runIdSchema.safeParse(runId).success) return notFound('Run not found.');
  if (!(PERTURBATION_EXPORTS as readonly string[]).includes(file)) return notFound('No such download.');
  const dashboard = await loadRunDashboard(runtime.db, runId);
  if (!dashboard) return notFound('Run not found.');
  try {
    await requireProjectRole(runtime, session.user.id, dashboard.run.projectId, 'viewer');
  } catch (error) {
    if (error instanceof TRPCError) return notFound('Run not found.');
    throw error;
  }
  const perturbation = dashboard.artifacts.perturbation as StoredPerturbation | null | undefined;
  if (!perturbation || typeof perturbation !== 'object')
    return notFound('This run has no perturbation results.');
  let body: string;
  if (file === 'causal.csv') {
    const { genes, effects } = perturbation.causal ?? {};
    if (!Array.isArray(genes) || !Array.isArray(effects)) return notFound('This run has no causal matrix.');
    body = cliprMatrixCsv(genes, effects);
  } else {
    body = perturbationMetricsCsv(perturbation);
  }
  const stem = file === 'causal.csv' ? 'clipr' : 'heldout-metrics';
  return new Response(body, {
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${stem}-${runId.slice(0, 8)}.csv"`,
    },
  });
}
