import { createTRPCRouter, publicProcedure } from '../trpc';

export const systemRouter = createTRPCRouter({
  info: publicProcedure.query(({ ctx }) => ({
    version: ctx.runtime.packageVersion,
    databaseMode: ctx.runtime.database.mode,
    worker: ctx.runtime.env.TRIBUTARY_WORKER,
    tensorBackend: ctx.runtime.tensorBackend()?.name ?? null,
    uploadMaxBytes: ctx.runtime.env.TRIBUTARY_UPLOAD_MAX_BYTES,
    signedIn: ctx.user !== null,
  })),
});
