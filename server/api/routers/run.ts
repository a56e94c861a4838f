import { TRPCError } from '@trpc/server';
import { desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { runs } from '../../../db/schema';
import { loadRunDashboard } from '../../dashboard';
import { runRequestSchema } from '../../jobs/kinds';
import { cancelRun, createRun } from '../../runs';
import {
  authedProcedure,
  createTRPCRouter,
  projectProcedure,
  requireProjectRole,
  type Context,
} from '../trpc';

const runIdInput = z.object({ runId: z.uuid('runId must be a UUID') });

/** The run's project id, or NOT_FOUND (the same answer whether the run is missing or not yours). */
async function projectOfRun(ctx: Pick<Context, 'db'>, runId: string): Promise<string> {
  const [run] = await ctx.db.select({ projectId: runs.projectId }).from(runs).where(eq(runs.id, runId));
  if (!run) throw new TRPCError({ code: 'NOT_FOUND', message: 'Run not found.' });
  return run.projectId;
}

export const runRouter = createTRPCRouter({
  list: projectProcedure('viewer').query(({ ctx, input }) =>
    ctx.db
      .select({
        id: runs.id,
        kind: runs.kind,
        name: runs.name,
        status: runs.status,
        progress: runs.progress,
        metrics: runs.metrics,
        error: runs.error,
        backend: runs.backend,
        createdAt: runs.createdAt,
        startedAt: runs.startedAt,
        finishedAt: runs.finishedAt,
      })
      .from(runs)
      .where(eq(runs.projectId, input.projectId))
      .orderBy(desc(runs.createdAt))
      .limit(200),
  ),

  get: authedProcedure.input(runIdInput).query(async ({ ctx, input }) => {
    const projectId = await projectOfRun(ctx, input.runId);
    const role = await requireProjectRole(ctx, ctx.user.id, projectId, 'viewer');
    const dashboard = await loadRunDashboard(ctx.db, input.runId);
    if (!dashboard) throw new TRPCError({ code: 'NOT_FOUND', message: 'Run not found.' });
    return { ...dashboard, role };
  }),

  start: projectProcedure('editor')
    .input(
      z.object({ name: z.string().trim().max(200).optional(), seed: z.number().int().min(0).optional() }),
    )
    .input(runRequestSchema)
    .mutation(async ({ ctx, input }) => {
      const seed = input.seed ?? Math.floor(Math.random() * 2 ** 31);
      const run = await createRun(ctx.runtime, {
        projectId: input.projectId,
        kind: input.kind,
        name: input.name || defaultRunName(input.kind, input.config),
        config: input.config,
        seed,
        userId: ctx.user.id,
      });
      return { id: run.id, status: run.status };
    }),

  cancel: authedProcedure.input(runIdInput).mutation(async ({ ctx, input }) => {
    const projectId = await projectOfRun(ctx, input.runId);
    await requireProjectRole(ctx, ctx.user.id, projectId, 'editor');
    return { status: await cancelRun(ctx.runtime, input.runId) };
  }),
});

function defaultRunName(kind: string, config: Record<string, unknown>): string {
  if (kind === 'flow2d') return `2-D flow on ${String(config.density)}`;
  if (kind === 'rfm') return 'RFM circuit';
  if (kind === 'molecule-prior') return 'Molecular prior';
  if (kind === 'perturbation-fit') return 'LCD + CLIPR on a screen';
  if (kind === 'molecule-design') return `Molecule design (${String(config.operator)})`;
  return kind;
}
