import { conformerHandler } from './conformers';
import { flow2dHandler } from './flow2d';
import { moleculeDesignHandler, moleculePriorHandler } from './molecules';
import { noopHandler } from './noop';
import { perturbationFitHandler } from './perturbation';
import { rfmHandler } from './rfm';
import type { RunHandler } from './types';

/** Every job kind a worker can run, by the `kind` stored on the run. */
export const runHandlers: Record<string, RunHandler> = {
  conformers: conformerHandler,
  flow2d: flow2dHandler,
  'molecule-prior': moleculePriorHandler,
  'molecule-design': moleculeDesignHandler,
  noop: noopHandler,
  'perturbation-fit': perturbationFitHandler,
  rfm: rfmHandler,
};
