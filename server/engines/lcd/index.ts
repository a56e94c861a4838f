/** LCD (DESIGN.md §5): the perturbation-conditioned score model, its training, sampler and metrics. */
export * from './model';
export * from './loss';
export * from './train';
export * from './sampler';
export * from './metrics';
export * from './measurement';
