/** The API: one router per domain, merged here. */
import { datasetRouter } from './routers/dataset';
import { modelRouter } from './routers/model';
import { preferenceRouter } from './routers/preference';
import { projectRouter } from './routers/project';
import { runRouter } from './routers/run';
import { shareRouter } from './routers/share';
import { systemRouter } from './routers/system';
import { createCallerFactory, createTRPCRouter } from './trpc';

export const appRouter = createTRPCRouter({
  project: projectRouter,
  run: runRouter,
  share: shareRouter,
  dataset: datasetRouter,
  model: modelRouter,
  preference: preferenceRouter,
  system: systemRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
