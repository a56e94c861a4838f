import { desc, eq } from 'drizzle-orm';
import { datasets } from '../../../db/schema';
import { createTRPCRouter, projectProcedure } from '../trpc';

/** Uploaded files. Uploads themselves stream through POST /api/upload (tRPC is not for large bodies). */
export const datasetRouter = createTRPCRouter({
  list: projectProcedure('viewer').query(({ ctx, input }) =>
    ctx.db
      .select({
        id: datasets.id,
        name: datasets.name,
        filename: datasets.filename,
        mediaType: datasets.mediaType,
        sizeBytes: datasets.sizeBytes,
        sha256: datasets.blobSha256,
        createdAt: datasets.createdAt,
      })
      .from(datasets)
      .where(eq(datasets.projectId, input.projectId))
      .orderBy(desc(datasets.createdAt)),
  ),
});
