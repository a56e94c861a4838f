/** Reward-guided flow merging (DESIGN.md §2). */
export * from './density';
export * from './exact';
export * from './mirrorDescent';
export * from './operators';
export * from './rewards';
export * from './differentiableRewards';
export * from './circuit';
export * from './circuitSchema';
export * from './sinkhorn';
