import { and, desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { models } from '../../../db/schema';
import { createTRPCRouter, projectProcedure } from '../trpc';

/** Trained models of a project (flows, molecular priors), newest first; weights stay in the blob store. */
export const modelRouter = createTRPCRouter({
  list: projectProcedure('viewer')
    .input(z.object({ kind: z.string().trim().min(1).max(50).optional() }))
    .query(({ ctx, input }) =>
      ctx.db
        .select({
          id: models.id,
          kind: models.kind,
          name: models.name,
          runId: models.runId,
          metadata: models.metadata,
          createdAt: models.createdAt,
        })
        .from(models)
        .where(
          input.kind
            ? and(eq(models.projectId, input.projectId), eq(models.kind, input.kind))
            : eq(models.projectId, input.projectId),
        )
        .orderBy(desc(models.createdAt))
        .limit(200),
    ),
});
